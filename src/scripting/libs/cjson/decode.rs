//! `cjson.decode`: JSON text to Lua values.
//!
//! The tokenizer accepts what lua-cjson's does (numbers as `strtod` reads
//! them, so also `+1`, `0x10`, `inf`, `nan` unless `decode_invalid_numbers`
//! is off; a NUL byte ends the text) and its errors name the same tokens and
//! positions. Nesting is handled with an explicit stack, counting the Lua
//! stack slots lua-cjson's recursive parser would hold, so the nesting
//! limits are the same too.

use mlua::{Lua, Value};

use super::strtod::strtod;
use super::Config;
use crate::scripting::libs::cfunction::{LibResult, Raise, TableStack, MAX_C_STACK};

/// What the tokenizer found.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    /// A string, decoded into the parser's buffer.
    Str,
    Number(f64),
    Boolean(bool),
    Null,
    Colon,
    Comma,
    End,
    /// Not a token; the reason.
    Error(&'static str),
}

impl Kind {
    /// lua-cjson's name for the token in error messages.
    fn name(self) -> &'static str {
        match self {
            Kind::ObjBegin => "T_OBJ_BEGIN",
            Kind::ObjEnd => "T_OBJ_END",
            Kind::ArrBegin => "T_ARR_BEGIN",
            Kind::ArrEnd => "T_ARR_END",
            Kind::Str => "T_STRING",
            Kind::Number(_) => "T_NUMBER",
            Kind::Boolean(_) => "T_BOOLEAN",
            Kind::Null => "T_NULL",
            Kind::Colon => "T_COLON",
            Kind::Comma => "T_COMMA",
            Kind::End => "T_END",
            Kind::Error(reason) => reason,
        }
    }
}

/// A token and the (0-based) offset it starts at, or of the error.
#[derive(Clone, Copy)]
struct Token {
    kind: Kind,
    index: usize,
}

/// An open array or object (its table is in a [`TableStack`]); objects
/// keep the key being filled.
enum Frame {
    Array { next: i64 },
    Object { key: Vec<u8> },
}

struct Parser<'a> {
    data: &'a [u8],
    pos: usize,
    /// The last string token, decoded.
    buf: Vec<u8>,
    invalid_numbers: bool,
}

/// The Lua value for the JSON text `data`, or lua-cjson's error.
pub(super) fn decode(lua: &Lua, cfg: &Config, data: &[u8]) -> LibResult<Value> {
    if data.len() >= 2 && (data[0] == 0 || data[1] == 0) {
        return Err(Raise::error("JSON parser does not support UTF-16 or UTF-32"));
    }
    let mut p = Parser { data, pos: 0, buf: Vec::new(), invalid_numbers: cfg.decode_invalid_numbers != 0 };
    let max_depth = usize::try_from(cfg.decode_max_depth).unwrap_or(0);
    let mut stack: Vec<Frame> = Vec::new();
    let mut tables = TableStack::default();
    // Slots lua-cjson would use below the next container: the argument,
    // plus per open array its table, per open object its table and key.
    let mut height = 1usize;
    let mut token = p.next_token();
    'value: loop {
        // Parse the value starting at `token`.
        let mut value = match token.kind {
            Kind::Str => Value::String(lua.create_string(&p.buf)?),
            Kind::Number(n) => Value::Number(n),
            Kind::Boolean(b) => Value::Boolean(b),
            Kind::Null => Value::NULL,
            Kind::ObjBegin | Kind::ArrBegin => {
                let is_object = token.kind == Kind::ObjBegin;
                let depth = stack.len() + 1;
                let slots = if is_object { 3 } else { 2 };
                if depth > max_depth || height + slots > MAX_C_STACK {
                    return Err(Raise::error(format!(
                        "Found too many nested data structures ({depth}) at character {}",
                        p.pos
                    )));
                }
                let table = lua.create_table()?;
                token = p.next_token();
                if token.kind == if is_object { Kind::ObjEnd } else { Kind::ArrEnd } {
                    Value::Table(table)
                } else {
                    tables.push(lua, table)?;
                    if is_object {
                        let key = p.object_key(token)?;
                        stack.push(Frame::Object { key });
                        height += 2;
                        token = p.next_token();
                    } else {
                        stack.push(Frame::Array { next: 1 });
                        height += 1;
                    }
                    continue 'value;
                }
            }
            _ => return Err(p.unexpected("value", token)),
        };
        // Store it in the enclosing container, closing containers that end.
        loop {
            let (Some(frame), Some(table)) = (stack.last_mut(), tables.top()) else {
                let end = p.next_token();
                if end.kind != Kind::End {
                    return Err(p.unexpected("the end", end));
                }
                return Ok(value);
            };
            let closed = match frame {
                Frame::Array { next } => {
                    table.raw_set(*next, value)?;
                    *next += 1;
                    token = p.next_token();
                    match token.kind {
                        Kind::ArrEnd => true,
                        Kind::Comma => false,
                        _ => return Err(p.unexpected("comma or array end", token)),
                    }
                }
                Frame::Object { key } => {
                    table.raw_set(lua.create_string(&*key)?, value)?;
                    token = p.next_token();
                    match token.kind {
                        Kind::ObjEnd => true,
                        Kind::Comma => {
                            let next = p.next_token();
                            *key = p.object_key(next)?;
                            false
                        }
                        _ => return Err(p.unexpected("comma or object end", token)),
                    }
                }
            };
            if !closed {
                token = p.next_token();
                continue 'value;
            }
            height -= match stack.pop() {
                Some(Frame::Object { .. }) => 2,
                _ => 1,
            };
            value = tables.pop()?.map_or(Value::Nil, Value::Table);
        }
    }
}

impl Parser<'_> {
    /// The byte at `i`; 0 past the end (Lua strings end with a NUL).
    fn at(&self, i: usize) -> u8 {
        self.data.get(i).copied().unwrap_or(0)
    }

    /// `Expected <what> but found <token> at character <n>`.
    fn unexpected(&self, what: &str, token: Token) -> Raise {
        Raise::error(format!("Expected {what} but found {} at character {}", token.kind.name(), token.index + 1))
    }

    /// An object key: the string `token`, then a colon.
    fn object_key(&mut self, token: Token) -> LibResult<Vec<u8>> {
        if token.kind != Kind::Str {
            return Err(self.unexpected("object key string", token));
        }
        let key = std::mem::take(&mut self.buf);
        let colon = self.next_token();
        if colon.kind != Kind::Colon {
            return Err(self.unexpected("colon", colon));
        }
        Ok(key)
    }

    fn next_token(&mut self) -> Token {
        while matches!(self.at(self.pos), b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
        let index = self.pos;
        let single = match self.at(index) {
            b'{' => Some(Kind::ObjBegin),
            b'}' => Some(Kind::ObjEnd),
            b'[' => Some(Kind::ArrBegin),
            b']' => Some(Kind::ArrEnd),
            b',' => Some(Kind::Comma),
            b':' => Some(Kind::Colon),
            0 => return Token { kind: Kind::End, index },
            _ => None,
        };
        if let Some(kind) = single {
            self.pos += 1;
            return Token { kind, index };
        }
        let rest = &self.data[index..];
        let kind = match rest[0] {
            b'"' => return self.string_token(),
            b'-' | b'0'..=b'9' => {
                if !self.invalid_numbers && self.is_invalid_number() {
                    Kind::Error("invalid number")
                } else {
                    return self.number_token();
                }
            }
            b'f' | b'i' | b'I' | b'n' | b'N' | b't' | b'+' => {
                if rest.starts_with(b"true") {
                    self.pos += 4;
                    Kind::Boolean(true)
                } else if rest.starts_with(b"false") {
                    self.pos += 5;
                    Kind::Boolean(false)
                } else if rest.starts_with(b"null") {
                    self.pos += 4;
                    Kind::Null
                } else if self.invalid_numbers && self.is_invalid_number() {
                    return self.number_token();
                } else {
                    Kind::Error("invalid token")
                }
            }
            _ => Kind::Error("invalid token"),
        };
        Token { kind, index }
    }

    /// Whether the number here is one strict JSON forbids but `strtod`
    /// reads: a leading `+`, hex, leading zeros, `inf` or `nan`.
    fn is_invalid_number(&self) -> bool {
        let mut p = self.pos;
        match self.at(p) {
            b'+' => return true,
            b'-' => p += 1,
            _ => {}
        }
        let ch = self.at(p);
        if ch == b'0' {
            let next = self.at(p + 1);
            return next | 0x20 == b'x' || next.is_ascii_digit();
        }
        if ch <= b'9' {
            return false;
        }
        let word = [self.at(p), self.at(p + 1), self.at(p + 2)];
        word.eq_ignore_ascii_case(b"inf") || word.eq_ignore_ascii_case(b"nan")
    }

    fn number_token(&mut self) -> Token {
        let index = self.pos;
        // (A NUL byte, where C's strtod would stop, is never part of a number.)
        match strtod(&self.data[index..]) {
            Some((n, len)) => {
                self.pos += len;
                Token { kind: Kind::Number(n), index }
            }
            None => Token { kind: Kind::Error("invalid number"), index },
        }
    }

    fn string_token(&mut self) -> Token {
        let start = self.pos;
        self.pos += 1;
        self.buf.clear();
        loop {
            let ch = self.at(self.pos);
            match ch {
                b'"' => break,
                0 => return Token { kind: Kind::Error("unexpected end of string"), index: self.pos },
                b'\\' => {
                    let unescaped = match self.at(self.pos + 1) {
                        b'u' => {
                            if self.unicode_escape() {
                                continue;
                            }
                            return Token { kind: Kind::Error("invalid unicode escape code"), index: self.pos };
                        }
                        c @ (b'"' | b'\\' | b'/') => c,
                        b'b' => b'\x08',
                        b't' => b'\t',
                        b'n' => b'\n',
                        b'f' => b'\x0c',
                        b'r' => b'\r',
                        _ => return Token { kind: Kind::Error("invalid escape code"), index: self.pos },
                    };
                    self.buf.push(unescaped);
                    self.pos += 2;
                }
                _ => {
                    self.buf.push(ch);
                    self.pos += 1;
                }
            }
        }
        self.pos += 1;
        Token { kind: Kind::Str, index: start }
    }

    /// Four hex digits at `i` as a number.
    fn hex4(&self, i: usize) -> Option<u32> {
        (i..i + 4).try_fold(0u32, |acc, j| Some(acc << 4 | (self.at(j) as char).to_digit(16)?))
    }

    /// A `\uXXXX` escape (or a `\uD8XX\uDCXX` surrogate pair) at `pos`,
    /// appended as UTF-8; false if invalid.
    fn unicode_escape(&mut self) -> bool {
        let Some(mut code) = self.hex4(self.pos + 2) else { return false };
        let mut len = 6;
        if code & 0xF800 == 0xD800 {
            if code & 0x400 != 0 || self.at(self.pos + 6) != b'\\' || self.at(self.pos + 7) != b'u' {
                return false;
            }
            let Some(low) = self.hex4(self.pos + 8) else { return false };
            if low & 0xFC00 != 0xDC00 {
                return false;
            }
            code = (((code & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000;
            len = 12;
        }
        let Some(c) = char::from_u32(code) else { return false };
        let mut utf8 = [0u8; 4];
        self.buf.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
        self.pos += len;
        true
    }
}
