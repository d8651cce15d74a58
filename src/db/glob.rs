//! Glob-style pattern matching as Redis's `stringmatchlen`: `*`, `?`,
//! `[abc]`, `[^a-z]`, and `\` escapes. Used by KEYS, SCAN MATCH, CONFIG GET.

/// True if `s` matches `pat`. `nocase` folds ASCII case.
/// Worst case O(len(pat) × len(s)): stars backtrack to the last star only.
pub fn glob_match(pat: &[u8], s: &[u8], nocase: bool) -> bool {
    let eq = |a: u8, b: u8| if nocase { a.eq_ignore_ascii_case(&b) } else { a == b };
    let (mut p, mut i) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        if p < pat.len() {
            match pat[p] {
                b'*' => {
                    while p < pat.len() && pat[p] == b'*' {
                        p += 1;
                    }
                    if p == pat.len() {
                        return true;
                    }
                    star = Some((p, i));
                    continue;
                }
                b'?' => {
                    p += 1;
                    i += 1;
                    continue;
                }
                b'[' => {
                    if let Some((matched, next)) = match_class(pat, p, s[i], nocase) {
                        if matched {
                            p = next;
                            i += 1;
                            continue;
                        }
                    }
                }
                b'\\' if p + 1 < pat.len() => {
                    if eq(pat[p + 1], s[i]) {
                        p += 2;
                        i += 1;
                        continue;
                    }
                }
                c => {
                    if eq(c, s[i]) {
                        p += 1;
                        i += 1;
                        continue;
                    }
                }
            }
        }
        match star {
            Some((sp, si)) => {
                p = sp;
                i = si + 1;
                star = Some((sp, si + 1));
            }
            None => return false,
        }
    }
    pat[p..].iter().all(|&c| c == b'*')
}

/// Matches one character against the class starting at `pat[p] == '['`.
/// Returns (matched, index after the class).
fn match_class(pat: &[u8], mut p: usize, c: u8, nocase: bool) -> Option<(bool, usize)> {
    p += 1;
    let not = p < pat.len() && pat[p] == b'^';
    if not {
        p += 1;
    }
    let fold = |x: u8| if nocase { x.to_ascii_lowercase() } else { x };
    let c = fold(c);
    let mut matched = false;
    loop {
        if p >= pat.len() {
            // Unterminated class: Redis treats the end of pattern as closing it.
            break;
        }
        if pat[p] == b']' {
            p += 1;
            break;
        }
        if pat[p] == b'\\' && p + 1 < pat.len() {
            if fold(pat[p + 1]) == c {
                matched = true;
            }
            p += 2;
        } else if p + 2 < pat.len() && pat[p + 1] == b'-' && pat[p + 2] != b']' {
            let (mut a, mut b) = (fold(pat[p]), fold(pat[p + 2]));
            if a > b {
                std::mem::swap(&mut a, &mut b);
            }
            if c >= a && c <= b {
                matched = true;
            }
            p += 3;
        } else {
            if fold(pat[p]) == c {
                matched = true;
            }
            p += 1;
        }
    }
    Some((matched != not, p))
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    fn m(p: &str, s: &str) -> bool {
        glob_match(p.as_bytes(), s.as_bytes(), false)
    }

    #[test]
    fn patterns() {
        assert!(m("*", "anything"));
        assert!(m("h?llo", "hello"));
        assert!(!m("h?llo", "hllo"));
        assert!(m("h*llo", "heeeello"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(m("user:*:name", "user:42:name"));
        assert!(!m("user:*:name", "user:42:nam"));
        assert!(m("a\\*b", "a*b"));
        assert!(!m("a\\*b", "axb"));
        assert!(m("*a*b*c*", "xxaxxbxxcxx"));
        assert!(glob_match(b"HELLO", b"hello", true));
    }
}
