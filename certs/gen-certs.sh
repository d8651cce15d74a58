#!/usr/bin/env bash
# Generates a throwaway CA plus a server and a client certificate signed by it, for
# development and tests of inmemory's TLS port (like Redis's utils/gen-test-certs.sh).
#
#   certs/gen-certs.sh [DIR]     # DIR defaults to the directory holding this script
#
# Writes ca.crt ca.key server.crt server.key client.crt client.key (RSA 2048, SHA-256,
# valid 365 days), overwriting existing files. The server certificate is valid for
# DNS:localhost, IP:127.0.0.1 and IP:::1. Keys are mode 600 and must never be committed.
#
# Use: tls-cert-file server.crt, tls-key-file server.key, tls-ca-cert-file ca.crt on the
# server; a client trusts ca.crt and, for tls-auth-clients yes, presents client.crt/.key:
#   redis-cli --tls -p 6380 --cacert ca.crt --cert client.crt --key client.key PING
set -euo pipefail

if ! command -v openssl >/dev/null 2>&1; then
    echo "gen-certs.sh: openssl not found; install it (Debian/Ubuntu: apt-get install openssl)" >&2
    exit 1
fi

dir="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}"
mkdir -p "$dir"
cd "$dir"
days=365
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
umask 077

# CA: self-signed, may sign certificates only.
openssl req -x509 -new -nodes -newkey rsa:2048 -sha256 -days "$days" \
    -subj "/O=inmemory/CN=inmemory test CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout ca.key -out ca.crt 2>/dev/null

# leaf NAME CN EXTENSIONS: key, CSR, then a v3 certificate signed by the CA.
leaf() {
    local name="$1" cn="$2" ext="$3"
    openssl req -new -nodes -newkey rsa:2048 -sha256 -subj "/O=inmemory/CN=$cn" \
        -keyout "$name.key" -out "$tmp/$name.csr" 2>/dev/null
    printf '%s\n' "$ext" >"$tmp/$name.ext"
    openssl x509 -req -sha256 -days "$days" -in "$tmp/$name.csr" \
        -CA ca.crt -CAkey ca.key -CAcreateserial -CAserial "$tmp/ca.srl" \
        -extfile "$tmp/$name.ext" -out "$name.crt" 2>/dev/null
}

leaf server "localhost" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1"

leaf client "inmemory test client" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"

chmod 644 ca.crt server.crt client.crt
chmod 600 ca.key server.key client.key
openssl verify -CAfile ca.crt server.crt client.crt >/dev/null

echo "Wrote to $dir:"
for f in ca.crt ca.key server.crt server.key client.crt client.key; do
    printf '  %-11s %s\n' "$f" "$(openssl x509 -in "$f" -noout -subject 2>/dev/null || echo 'private key')"
done
echo "Server certificate names: $(openssl x509 -in server.crt -noout -ext subjectAltName | tail -n +2 | sed 's/^ *//')"
