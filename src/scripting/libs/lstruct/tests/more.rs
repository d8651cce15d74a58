//! `struct.size`, offsets, round trips, call sites and the result limit;
//! outputs checked against redis-server 7.0.15 like those of the parent.

use super::state;
use crate::scripting::libs::cfunction::testing::shown::{check_all, run};

#[test]
fn size_values() {
    check_all(
        &state(),
        &[
            (r#"struct.size('b')"#, r#"1"#),
            (r#"struct.size('>I2')"#, r#"2"#),
            (r#"struct.size('bhlLTiIfdx')"#, r#"48"#),
            (r#"struct.size('!bhlLTiIfdx')"#, r#"57"#),
            (r#"struct.size('!4 b d')"#, r#"12"#),
            (r#"struct.size('!8 b d')"#, r#"16"#),
            (r#"struct.size('!2 b i')"#, r#"6"#),
            (r#"struct.size('i3 i5')"#, r#"8"#),
            (r#"struct.size('!8 b i3 b i6')"#, r#"14"#),
            (r#"struct.size('c10')"#, r#"10"#),
            (r#"struct.size('z')"#, r#"0"#),
            (r#"struct.size('Z')"#, r#"0"#),
            (r#"struct.size('5')"#, r#"0"#),
            (r#"struct.size('c2147483647 c2147483647 c2147483647')"#, r#"6442450941"#),
            (r#"struct.size('')"#, r#"0"#),
            (r#"struct.size(' ')"#, r#"0"#),
            (r#"struct.size(12)"#, r#"0"#),
            (r#"struct.size('b\0z')"#, r#"1"#),
            (r#"struct.size('!4 b c3 i')"#, r#"8"#),
            (r#"struct.size('<>!')"#, r#"0"#),
            (r#"struct.size('i0')"#, r#"0"#),
            (r#"struct.size('!16 b d')"#, r#"16"#),
            (r#"struct.size('!4 b', 'extra')"#, r#"1"#),
            (r#"struct.size('!')"#, r#"0"#),
            (r#"struct.size('!8 c3 d')"#, r#"16"#),
            (r#"struct.size('A')"#, r#"0"#),
        ],
    );
}

#[test]
fn size_errors() {
    check_all(
        &state(),
        &[
            (
                r#"struct.size('c0')"#,
                r#"ERR:string:user_script:1: bad argument #1 to 'size' (option 'c0' has no fixed size)"#,
            ),
            (
                r#"struct.size('b c0')"#,
                r#"ERR:string:user_script:1: bad argument #1 to 'size' (option 'c0' has no fixed size)"#,
            ),
            (
                r#"struct.size('s')"#,
                r#"ERR:string:user_script:1: bad argument #1 to 'size' (option 's' has no fixed size)"#,
            ),
            (
                r#"struct.size('bs')"#,
                r#"ERR:string:user_script:1: bad argument #1 to 'size' (option 's' has no fixed size)"#,
            ),
            (r#"struct.size('!3')"#, r#"ERR:string:user_script:1: alignment 3 is not a power of 2"#),
            (r#"struct.size('i33')"#, r#"ERR:string:user_script:1: integral size 33 is larger than limit of 32"#),
            (r#"struct.size('i99999999999')"#, r#"ERR:string:user_script:1: integral size overflow"#),
            (
                r#"struct.size()"#,
                r#"ERR:string:user_script:1: bad argument #1 to 'size' (string expected, got no value)"#,
            ),
            (
                r#"struct.size(nil)"#,
                r#"ERR:string:user_script:1: bad argument #1 to 'size' (string expected, got nil)"#,
            ),
            (
                r#"struct.size({})"#,
                r#"ERR:string:user_script:1: bad argument #1 to 'size' (string expected, got table)"#,
            ),
            (
                r#"struct.size('=')"#,
                r#"ERR:string:user_script:1: bad argument #1 to 'size' (invalid format option '=')"#,
            ),
            (
                r#"struct.size('s3')"#,
                r#"ERR:string:user_script:1: bad argument #1 to 'size' (option 's' has no fixed size)"#,
            ),
            (
                r#"struct.size('c0b')"#,
                r#"ERR:string:user_script:1: bad argument #1 to 'size' (option 'c0' has no fixed size)"#,
            ),
            (
                r#"struct.size('_')"#,
                r#"ERR:string:user_script:1: bad argument #1 to 'size' (invalid format option '_')"#,
            ),
        ],
    );
}

#[test]
fn offsets_round_trips_and_more_edges() {
    check_all(
        &state(),
        &[
            (
                r#"struct.unpack(' ', 'abc', 5)"#,
                r#"ERR:string:user_script:1: bad argument #2 to 'unpack' (data string too short)"#,
            ),
            (
                r#"struct.unpack('z', 'abc', 10)"#,
                r#"ERR:string:user_script:1: bad argument #2 to 'unpack' (data string too short)"#,
            ),
            (
                r#"struct.unpack('z', 'abc', 0)"#,
                r#"ERR:string:user_script:1: bad argument #3 to 'unpack' (offset must be 1 or greater)"#,
            ),
            (
                r#"struct.unpack('z', 'abc', 'x')"#,
                r#"ERR:string:user_script:1: bad argument #3 to 'unpack' (number expected, got string)"#,
            ),
            (
                r#"struct.unpack('z', {}, 'x')"#,
                r#"ERR:string:user_script:1: bad argument #2 to 'unpack' (string expected, got table)"#,
            ),
            (
                r#"struct.unpack({}, {}, 'x')"#,
                r#"ERR:string:user_script:1: bad argument #1 to 'unpack' (string expected, got table)"#,
            ),
            (
                r#"struct.unpack('i33', 'abc', 10)"#,
                r#"ERR:string:user_script:1: integral size 33 is larger than limit of 32"#,
            ),
            (
                r#"struct.unpack('!3', 'abc', 10)"#,
                r#"ERR:string:user_script:1: bad argument #2 to 'unpack' (data string too short)"#,
            ),
            (r#"struct.unpack('>', 'abc', 4)"#, r#"4"#),
            (
                r#"struct.unpack('b', 'abc', '0')"#,
                r#"ERR:string:user_script:1: bad argument #3 to 'unpack' (offset must be 1 or greater)"#,
            ),
            (r#"struct.unpack('b', 'abc', ' 2 ')"#, r#"98,3"#),
            (
                r#"struct.unpack('b', 'abc', -2^63)"#,
                r#"ERR:string:user_script:1: bad argument #2 to 'unpack' (data string too short)"#,
            ),
            (r#"struct.unpack('', 'abc', 2^63)"#, r#"-9.2233720368547758e+18"#),
            (r#"struct.unpack('', 'abc', 2^64)"#, r#"-9.2233720368547758e+18"#),
            (r#"struct.pack('<d', struct.unpack('<d', '\1\0\0\0\0\0\248\127'))"#, r#"x010000000000f87f"#),
            (r#"struct.pack('<d', struct.unpack('<d', '\1\2\3\4\5\6\247\255'))"#, r#"x010203040506f7ff"#),
            (r#"struct.pack('<f', struct.unpack('<f', '\1\0\192\127'))"#, r#"x0100c07f"#),
            (
                r#"struct.unpack('<i8 >i8 I3', struct.pack('<i8 >i8 I3', -5, 2^40 + 3, 70000))"#,
                r#"-5,1099511627779,70000,20"#,
            ),
            (
                r#"struct.unpack('!4 b h b i b d', struct.pack('!4 b h b i b d', 1, -2, 3, -4, 5, 6.25))"#,
                r#"1,-2,3,-4,5,6.25,25"#,
            ),
            (r#"struct.size('!4 b h b i b d')"#, r#"24"#),
            (r#"struct.unpack('c0', 'abc', 2)"#, r#"ERR:string:user_script:1: format 'c0' needs a previous size"#),
            (r#"struct.unpack('B c0 B c0', '\1a\2bc')"#, r#""a","bc",6"#),
            (r#"struct.pack('bc0', 1, 'abc')"#, r#"x01616263"#),
            (r#"struct.pack('s', '')"#, r#"x00"#),
            (r#"struct.pack('c0', '')"#, r#""""#),
            (r#"struct.unpack('s', '\0')"#, r#""",2"#),
            (r#"struct.unpack('>c2 c0', '02abc')"#, r#""ab",5"#),
            (r#"struct.unpack('>c3 c0', '0x2abc')"#, r#""ab",6"#),
            (
                r#"struct.unpack('d', string.rep('\0', 7))"#,
                r#"ERR:string:user_script:1: bad argument #2 to 'unpack' (data string too short)"#,
            ),
            (
                r#"struct.unpack('f', '\0\0\0')"#,
                r#"ERR:string:user_script:1: bad argument #2 to 'unpack' (data string too short)"#,
            ),
            (r#"struct.pack('>I4', 4294967295)"#, r#"xffffffff"#),
            (r#"struct.pack('>i4', -2147483648)"#, r#"x80000000"#),
            (r#"struct.pack('>l', -1)"#, r#"xffffffffffffffff"#),
            (r#"struct.pack('>L', 2^63 - 1024)"#, r#"x7ffffffffffffc00"#),
            (r#"struct.pack('>L', -1)"#, r#"xffffffffffffffff"#),
            (r#"struct.pack('>H', 1.99999)"#, r#"x0001"#),
            (r#"struct.pack('>h', -1.99999)"#, r#"xffff"#),
            (r#"struct.pack('<!2 b i', 1, 2)"#, r#"x010002000000"#),
            (
                r#"struct.pack('>!16 b I16', 1, 2)"#,
                r#"x0100000000000000000000000000000000000000000000000000000000000002"#,
            ),
            (
                r#"struct.pack('>!32 b i32', 1, 2)"#,
                r#"x01000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000002"#,
            ),
            (r#"struct.unpack('>!16 b I16', struct.pack('>!16 b I16', 1, 2))"#, r#"1,2,33"#),
            (r#"struct.unpack('b', '\1\2\3', 3.99)"#, r#"3,4"#),
        ],
    );
}

#[test]
fn errors_name_the_function_as_called_and_the_calling_line() {
    let lua = state();
    let cases = [
        ("local ok, e = pcall(struct.pack, 'z') return e", "bad argument #1 to '?' (invalid format option 'z')"),
        ("local ok, e = pcall(struct.unpack, 'c0', 'a') return e", "format 'c0' needs a previous size"),
        (
            "local ok, e = pcall(function() return struct:pack() end) return e",
            "user_script:1: calling 'pack' on bad self (string expected, got table)",
        ),
        (
            "local ok, e = pcall(function() return struct:unpack('b') end) return e",
            "user_script:1: calling 'unpack' on bad self (string expected, got table)",
        ),
        (
            "local ok, e = pcall(function() return struct:size() end) return e",
            "user_script:1: calling 'size' on bad self (string expected, got table)",
        ),
        (
            "local s = struct.size local ok, e = pcall(function()\n\n return s('s') end) return e",
            "user_script:3: bad argument #1 to 's' (option 's' has no fixed size)",
        ),
        (
            "local ok, e = pcall(function() return struct.pack('\\255') end) return string.byte(e, -3) .. ' ' .. #e",
            "255 68",
        ),
    ];
    for (code, expected) in cases {
        assert_eq!(run(&lua, code), expected, "{code}");
    }
}

/// `unpack` fails like the C code when its results would not fit the 8000
/// stack slots a C function may use, arguments included: it may return
/// items + 1 values for nargs + items <= 7999 (redis-server gives these
/// outcomes). Successes are not run under `pcall`: Lua's `pcall` pushing
/// its status beside ~8000 results trips the API checks of a debug build.
#[test]
fn too_many_results() {
    let lua = state();
    let code = |nargs: usize, items: usize| {
        format!(
            "local t = {{}} for i = 1, {nargs} - 2 do t[i] = 1 end \
             return string.rep('b', {items}), string.rep('1', {items} + 1), unpack(t)"
        )
    };
    let count = |nargs: usize, items: usize| {
        run(
            &lua,
            &format!(
                "local function args() {} end return tostring(select('#', struct.unpack(args())))",
                code(nargs, items)
            ),
        )
    };
    let failure = |nargs: usize, items: usize| {
        run(&lua, &format!("local function args() {} end local ok, e = pcall(struct.unpack, args()) return tostring(ok) .. ' ' .. e", code(nargs, items)))
    };
    let overflow = "false stack overflow (too many results)";
    for nargs in [2, 3, 100, 1000, 7000] {
        let items = 7999 - nargs;
        assert_eq!(count(nargs, items), (items + 1).to_string(), "{nargs} {items}");
        assert_eq!(failure(nargs, items + 1), overflow, "{nargs} {items}");
    }
    let direct = run(&lua, "local ok, e = pcall(function() return struct.unpack(string.rep('b', 8000), string.rep('a', 8000)) end) return e");
    assert_eq!(direct, "user_script:1: stack overflow (too many results)");
}
