//! Outputs checked against redis-server 7.0.15 (`EVAL` of the same
//! expressions, formatted by the same `show` prelude).

use crate::scripting::libs::cfunction::testing::shown::{check_all, eval, run};
use mlua::Lua;

fn state() -> Lua {
    let lua = Lua::new();
    let globals = lua.globals();
    globals.set("bit", super::open(&lua).expect("open bit")).expect("set bit");
    // Only to build NaNs with chosen payloads from bytes.
    globals.set("struct", crate::scripting::libs::lstruct::open(&lua).expect("open struct")).expect("set struct");
    drop(globals);
    lua
}

#[test]
fn tobit_conversion() {
    check_all(
        &state(),
        &[
            (r#"bit.tobit(1)"#, r#"1"#),
            (r#"bit.tobit(0xffffffff)"#, r#"-1"#),
            (r#"bit.tobit(0xffffffff + 1)"#, r#"0"#),
            (r#"bit.tobit(2^40 + 1234)"#, r#"1234"#),
            (r#"bit.tobit(-1)"#, r#"-1"#),
            (r#"bit.tobit(1.5)"#, r#"2"#),
            (r#"bit.tobit(2.5)"#, r#"2"#),
            (r#"bit.tobit(-1.5)"#, r#"-2"#),
            (r#"bit.tobit(-2.5)"#, r#"-2"#),
            (r#"bit.tobit(0.49999999)"#, r#"0"#),
            (r#"bit.tobit(2^51)"#, r#"0"#),
            (r#"bit.tobit(2^51 + 3)"#, r#"2"#),
            (r#"bit.tobit(2^52)"#, r#"0"#),
            (r#"bit.tobit(2^52 + 7)"#, r#"4"#),
            (r#"bit.tobit(2^53 + 2)"#, r#"1"#),
            (r#"bit.tobit(2^60 + 2^20)"#, r#"4096"#),
            (r#"bit.tobit(2^63)"#, r#"0"#),
            (r#"bit.tobit(2^64 + 2^33)"#, r#"2097152"#),
            (r#"bit.tobit(-2^51)"#, r#"0"#),
            (r#"bit.tobit(-2^51 - 1)"#, r#"-2"#),
            (r#"bit.tobit(-2^52 - 5)"#, r#"-20"#),
            (r#"bit.tobit(-2^53 - 6)"#, r#"12"#),
            (r#"bit.tobit(-2^63)"#, r#"0"#),
            (r#"bit.tobit(1e300)"#, r#"-2013235812"#),
            (r#"bit.tobit(-1e300)"#, r#"-2013235812"#),
            (r#"bit.tobit(1/0)"#, r#"0"#),
            (r#"bit.tobit(-1/0)"#, r#"0"#),
            (r#"bit.tobit(0/0)"#, r#"0"#),
            (r#"bit.tobit(-(0/0))"#, r#"0"#),
            (r#"bit.tobit(-0)"#, r#"0"#),
            (r#"bit.tobit(1e-300)"#, r#"0"#),
            (r#"bit.tobit('12')"#, r#"12"#),
            (r#"bit.tobit('0x10')"#, r#"16"#),
            (r#"bit.tobit(' 7 ')"#, r#"7"#),
            (r#"bit.tobit('1e3')"#, r#"1000"#),
            (r#"bit.tobit(1, 'extra', {})"#, r#"1"#),
            (r#"bit.tobit(0x7fffffff)"#, r#"2147483647"#),
            (r#"bit.tobit(0x80000000)"#, r#"-2147483648"#),
            (r#"bit.tobit(2147483648.5)"#, r#"-2147483648"#),
            (r#"bit.tobit(4294967295.5)"#, r#"0"#),
            (r#"bit.tobit(4294967296.5)"#, r#"0"#),
            (r#"bit.tobit(3.5)"#, r#"4"#),
            (r#"bit.tobit(bit.lshift(1, 31) * 2)"#, r#"0"#),
            (r#"bit.tobit(struct.unpack('<d', '\1\0\0\0\0\0\248\127'))"#, r#"1"#),
            (r#"bit.tobit(struct.unpack('<d', '\5\0\0\128\0\0\240\255'))"#, r#"-2147483643"#),
            (r#"bit.tohex(struct.unpack('<d', '\239\205\171\137\0\0\244\127'))"#, r#""89abcdef""#),
            (r#"bit.tobit(2^32 - 0.5)"#, r#"0"#),
            (r#"bit.tobit(-0.5)"#, r#"0"#),
            (r#"bit.tobit(0.5)"#, r#"0"#),
            (r#"bit.tobit(-2^31 - 0.5)"#, r#"-2147483648"#),
            (r#"bit.tobit(-2^31 - 1.5)"#, r#"2147483646"#),
            (r#"bit.tobit(2^52 + 2^51 - 1)"#, r#"0"#),
            (r#"bit.tobit(2^52 + 2^51)"#, r#"0"#),
            (r#"bit.tobit(2^52 + 2^51 + 1)"#, r#"0"#),
            (r#"bit.tobit(-2^52 - 2^51)"#, r#"0"#),
            (r#"bit.tobit(-2^52 - 2^51 - 1)"#, r#"0"#),
            (r#"bit.tobit(-2^52 - 2^51 + 1)"#, r#"0"#),
            (r#"bit.tobit(2^31 * 3 + 7)"#, r#"-2147483641"#),
            (r#"bit.tobit(-(2^31 * 3 + 7))"#, r#"2147483641"#),
            (r#"bit.tobit(123456789012.75)"#, r#"-1097262571"#),
            (r#"bit.tobit(-123456789012.25)"#, r#"1097262572"#),
        ],
    );
}

#[test]
fn bnot_band_bor_bxor() {
    check_all(
        &state(),
        &[
            (r#"bit.bnot(0)"#, r#"-1"#),
            (r#"bit.bnot(-1)"#, r#"0"#),
            (r#"bit.bnot(0x12345678)"#, r#"-305419897"#),
            (r#"bit.bnot('5')"#, r#"-6"#),
            (r#"bit.band(1)"#, r#"1"#),
            (r#"bit.band(0xff00ff, 0x0ff0f0, 0xf0f0f0f)"#, r#"983040"#),
            (r#"bit.band(-1, 0xffffffff)"#, r#"-1"#),
            (r#"bit.bor(1,2,4,8,16,32,64,128)"#, r#"255"#),
            (r#"bit.bor(0x80000000, 1)"#, r#"-2147483647"#),
            (r#"bit.bxor(1,2)"#, r#"3"#),
            (r#"bit.bxor(0xffffffff, 0x0f0f0f0f, 0x3)"#, r#"-252645133"#),
            (r#"bit.bxor(5)"#, r#"5"#),
            (
                r#"bit.band(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25)"#,
                r#"0"#,
            ),
            (
                r#"bit.bor(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 2^17, 2^18, 2^19, 2^20, 2^21, 2^22, 2^23, 2^24, 2^25)"#,
                r#"67108863"#,
            ),
        ],
    );
}

#[test]
fn shifts_and_rotations() {
    check_all(
        &state(),
        &[
            (r#"bit.lshift(1, 0)"#, r#"1"#),
            (r#"bit.lshift(1, 31)"#, r#"-2147483648"#),
            (r#"bit.lshift(1, 32)"#, r#"1"#),
            (r#"bit.lshift(1, 33)"#, r#"2"#),
            (r#"bit.lshift(1, -1)"#, r#"-2147483648"#),
            (r#"bit.lshift(0x87654321, 4)"#, r#"1985229328"#),
            (r#"bit.lshift(3, 2^32 + 1)"#, r#"6"#),
            (r#"bit.rshift(-1, 1)"#, r#"2147483647"#),
            (r#"bit.rshift(0x80000000, 31)"#, r#"1"#),
            (r#"bit.rshift(0x87654321, 4)"#, r#"141972530"#),
            (r#"bit.rshift(1, -31)"#, r#"0"#),
            (r#"bit.rshift(256, 36)"#, r#"16"#),
            (r#"bit.arshift(-256, 4)"#, r#"-16"#),
            (r#"bit.arshift(0x87654321, 4)"#, r#"-126462926"#),
            (r#"bit.arshift(0x87654321, 36)"#, r#"-126462926"#),
            (r#"bit.arshift(-1, 31)"#, r#"-1"#),
            (r#"bit.arshift(0x7fffffff, 30)"#, r#"1"#),
            (r#"bit.rol(0x12345678, 12)"#, r#"1164411171"#),
            (r#"bit.rol(0x12345678, 0)"#, r#"305419896"#),
            (r#"bit.rol(0x12345678, 32)"#, r#"305419896"#),
            (r#"bit.rol(0x12345678, -4)"#, r#"-2128394905"#),
            (r#"bit.rol(0x80000001, 1)"#, r#"3"#),
            (r#"bit.ror(0x12345678, 12)"#, r#"1736516421"#),
            (r#"bit.ror(0x12345678, 0)"#, r#"305419896"#),
            (r#"bit.ror(0x12345678, 40)"#, r#"2014458966"#),
            (r#"bit.ror(0x80000001, 1)"#, r#"-1073741824"#),
            (r#"bit.ror(1, -1)"#, r#"2"#),
        ],
    );
}

#[test]
fn bswap() {
    check_all(
        &state(),
        &[
            (r#"bit.bswap(0x12345678)"#, r#"2018915346"#),
            (r#"bit.bswap(0x000000ff)"#, r#"-16777216"#),
            (r#"bit.bswap(-1)"#, r#"-1"#),
            (r#"bit.bswap(0x80)"#, r#"-2147483648"#),
            (r#"bit.bswap(2^32 + 1)"#, r#"16777216"#),
        ],
    );
}

#[test]
fn tohex() {
    check_all(
        &state(),
        &[
            (r#"bit.tohex(1)"#, r#""00000001""#),
            (r#"bit.tohex(-1)"#, r#""ffffffff""#),
            (r#"bit.tohex(0x12345678, 4)"#, r#""5678""#),
            (r#"bit.tohex(65535, -4)"#, r#""FFFF""#),
            (r#"bit.tohex(0xabcdef, -8)"#, r#""00ABCDEF""#),
            (r#"bit.tohex(0xabcdef, 0)"#, r#""""#),
            (r#"bit.tohex(0xabcdef, 1)"#, r#""f""#),
            (r#"bit.tohex(0xabcdef, 9)"#, r#""00abcdef""#),
            (r#"bit.tohex(0xabcdef, 100)"#, r#""00abcdef""#),
            (r#"bit.tohex(0xabcdef, -100)"#, r#""00ABCDEF""#),
            (r#"bit.tohex(0xabcdef, -2147483647)"#, r#""00ABCDEF""#),
            (r#"bit.tohex(0xabcdef, 2^32 - 1)"#, r#""F""#),
            (r#"bit.tohex(0xabcdef, 2^32 + 3)"#, r#""def""#),
            (r#"bit.tohex(0xabcdef, 2147483648 + 2147483647)"#, r#""F""#),
            (r#"bit.tohex(0xabcdef, 2.5)"#, r#""ef""#),
            (r#"bit.tohex(0xabcdef, '3')"#, r#""def""#),
            (r#"bit.tohex(2^32 + 255)"#, r#""000000ff""#),
            (r#"bit.tohex(-0.5)"#, r#""00000000""#),
            (r#"bit.tohex(0/0)"#, r#""00000000""#),
            (r#"bit.tohex(1/0, -8)"#, r#""00000000""#),
            (r#"bit.tohex(0x89abcdef, 3)"#, r#""def""#),
            (r#"bit.tohex(0x89abcdef, 8, 'ignored')"#, r#""89abcdef""#),
        ],
    );
}

#[test]
fn argument_errors() {
    check_all(
        &state(),
        &[
            (
                r#"bit.tobit('abc')"#,
                r#"ERR:string:user_script:1: bad argument #1 to 'tobit' (number expected, got string)"#,
            ),
            (r#"bit.tobit(nil)"#, r#"ERR:string:user_script:1: bad argument #1 to 'tobit' (number expected, got nil)"#),
            (
                r#"bit.tobit()"#,
                r#"ERR:string:user_script:1: bad argument #1 to 'tobit' (number expected, got no value)"#,
            ),
            (
                r#"bit.tobit(true)"#,
                r#"ERR:string:user_script:1: bad argument #1 to 'tobit' (number expected, got boolean)"#,
            ),
            (
                r#"bit.tobit({})"#,
                r#"ERR:string:user_script:1: bad argument #1 to 'tobit' (number expected, got table)"#,
            ),
            (r#"bit.bnot()"#, r#"ERR:string:user_script:1: bad argument #1 to 'bnot' (number expected, got no value)"#),
            (
                r#"bit.band(1, 2, 'x')"#,
                r#"ERR:string:user_script:1: bad argument #3 to 'band' (number expected, got string)"#,
            ),
            (
                r#"bit.band(1, nil)"#,
                r#"ERR:string:user_script:1: bad argument #2 to 'band' (number expected, got nil)"#,
            ),
            (r#"bit.band()"#, r#"ERR:string:user_script:1: bad argument #1 to 'band' (number expected, got no value)"#),
            (
                r#"bit.band(1, 2, 3, nil)"#,
                r#"ERR:string:user_script:1: bad argument #4 to 'band' (number expected, got nil)"#,
            ),
            (r#"bit.bor(1, {})"#, r#"ERR:string:user_script:1: bad argument #2 to 'bor' (number expected, got table)"#),
            (
                r#"bit.lshift(1)"#,
                r#"ERR:string:user_script:1: bad argument #2 to 'lshift' (number expected, got no value)"#,
            ),
            (
                r#"bit.lshift()"#,
                r#"ERR:string:user_script:1: bad argument #1 to 'lshift' (number expected, got no value)"#,
            ),
            (
                r#"bit.lshift(1, 'a')"#,
                r#"ERR:string:user_script:1: bad argument #2 to 'lshift' (number expected, got string)"#,
            ),
            (
                r#"bit.bswap()"#,
                r#"ERR:string:user_script:1: bad argument #1 to 'bswap' (number expected, got no value)"#,
            ),
            (
                r#"bit.tohex(0xabcdef, nil)"#,
                r#"ERR:string:user_script:1: bad argument #2 to 'tohex' (number expected, got nil)"#,
            ),
            (
                r#"bit.tohex(0xabcdef, 'x')"#,
                r#"ERR:string:user_script:1: bad argument #2 to 'tohex' (number expected, got string)"#,
            ),
            (
                r#"bit.tohex()"#,
                r#"ERR:string:user_script:1: bad argument #1 to 'tohex' (number expected, got no value)"#,
            ),
            (
                r#"bit.tohex(nil, 2)"#,
                r#"ERR:string:user_script:1: bad argument #1 to 'tohex' (number expected, got nil)"#,
            ),
            (
                r#"bit.band(1, 'x', {})"#,
                r#"ERR:string:user_script:1: bad argument #3 to 'band' (number expected, got table)"#,
            ),
            (
                r#"bit.band('x', {})"#,
                r#"ERR:string:user_script:1: bad argument #1 to 'band' (number expected, got string)"#,
            ),
            (
                r#"bit.bxor(1, 2, nil, 'q')"#,
                r#"ERR:string:user_script:1: bad argument #4 to 'bxor' (number expected, got string)"#,
            ),
            (
                r#"bit.rol('q', {})"#,
                r#"ERR:string:user_script:1: bad argument #1 to 'rol' (number expected, got string)"#,
            ),
            (
                r#"bit.tohex({}, {})"#,
                r#"ERR:string:user_script:1: bad argument #1 to 'tohex' (number expected, got table)"#,
            ),
            (
                r#"bit.tobit(function() end)"#,
                r#"ERR:string:user_script:1: bad argument #1 to 'tobit' (number expected, got function)"#,
            ),
            (
                r#"bit.tobit(coroutine.create(function() end))"#,
                r#"ERR:string:user_script:1: bad argument #1 to 'tobit' (number expected, got thread)"#,
            ),
        ],
    );
}

#[test]
fn errors_name_the_function_as_called_and_the_calling_line() {
    let lua = state();
    let cases = [
        // Called by pcall (a C function): no position, no name.
        ("local ok, e = pcall(bit.band, 1, 'x') return e", "bad argument #2 to '?' (number expected, got string)"),
        (
            "local f = bit.band local ok, e = pcall(function() return f(1, 'x') end) return e",
            "user_script:1: bad argument #2 to 'f' (number expected, got string)",
        ),
        (
            "local ok, e = pcall(function() local b = bit b.bor(1, 'x') end) return e",
            "user_script:1: bad argument #2 to 'bor' (number expected, got string)",
        ),
        (
            "local ok, e = pcall(function() return bit:band(1) end) return e",
            "user_script:1: calling 'band' on bad self (number expected, got table)",
        ),
        (
            "local ok, e = pcall(function() return bit:tobit() end) return e",
            "user_script:1: calling 'tobit' on bad self (number expected, got table)",
        ),
        (
            "local ok, e = pcall(function() local x = 1\nreturn bit.tohex(x, {}) end) return e",
            "user_script:2: bad argument #2 to 'tohex' (number expected, got table)",
        ),
        ("local ok, e = pcall(bit.tohex, {}) return type(e)", "string"),
    ];
    for (code, expected) in cases {
        assert_eq!(run(&lua, code), expected, "{code}");
    }
}

#[test]
fn an_error_reaches_rust_as_a_lua_runtime_error() {
    let lua = state();
    let err =
        lua.load("return bit.tohex({})").set_name("@user_script").eval::<String>().expect_err("tohex of a table fails");
    match err {
        // mlua appends a traceback to the message.
        mlua::Error::RuntimeError(msg) => assert!(
            msg.starts_with("user_script:1: bad argument #1 to 'tohex' (number expected, got table)\n"),
            "{msg}"
        ),
        other => panic!("unexpected error {other:?}"),
    }
}

#[test]
fn redis_test_suite_cases() {
    let lua = state();
    // tests/unit/scripting.tcl "EVAL - Verify minimal bitop functionality"
    let code = "assert(bit.tobit(1) == 1); assert(bit.band(1) == 1); \
                assert(bit.bxor(1,2) == 3); assert(bit.bor(1,2,4,8,16,32,64,128) == 255) \
                return 'ok'";
    assert_eq!(run(&lua, code), "ok");
    // tests/unit/functions.tcl: a version number split into its bytes.
    assert_eq!(
        eval(&lua, "bit.band(bit.rshift(0x070005, 16), 0x000000ff), bit.band(bit.rshift(0x070005, 8), 0x000000ff), bit.band(0x070005, 0x000000ff)"),
        "7,0,5"
    );
    assert_eq!(run(&lua, "return tostring(#{bit.bxor(1, 2)})"), "1");
}

#[test]
fn tohex_width_of_minus_2_pow_31_means_eight_upper_case_digits() {
    // What redis-server 7.0.15 returns (and what the CVE-2024-31449 fix
    // makes explicit).
    check_all(
        &state(),
        &[
            ("bit.tohex(0xabcdef, -2^31)", r#""00ABCDEF""#),
            ("bit.tohex(0xabcdef, 2^31)", r#""00ABCDEF""#),
            ("bit.tohex(-1, 2^31)", r#""FFFFFFFF""#),
        ],
    );
}
