//! Behaviour checks of `cjson`; the comparisons with redis-server's
//! outputs are in `reference`.

mod reference;

use mlua::Function;

use super::encode::format_g;
use super::strtod::strtod;
use crate::scripting::libs::cfunction::testing::piped::run;
use crate::scripting::libs::cfunction::testing::state;

/// Errors are raised as strings, like a C function's `luaL_error`.
#[test]
fn errors_are_strings() {
    let lua = state();
    let got = run(&lua, "local ok, e = pcall(cjson.decode, 'x') return type(e) .. ':' .. e");
    assert_eq!(got, "string:Expected value but found invalid token at character 1");
    let got = run(&lua, "local ok, e = pcall(cjson.encode) return e");
    assert_eq!(got, "bad argument #1 to '?' (expected 1 argument)");
    let got = run(&lua, "local d = cjson.decode local ok, e = pcall(function() return d({}) end) return e");
    assert_eq!(got, "user_script:1: bad argument #1 to 'd' (string expected, got table)");
}

/// Redis's own "EVAL - JSON smoke test" (tests/unit/scripting.tcl).
#[test]
fn redis_smoke_test() {
    let script = r#"
        local some_map = { s1="Some string", n1=100, a1={"Some","String","Array"}, nil1=nil, b1=true, b2=false}
        local encoded = cjson.encode(some_map)
        local decoded = cjson.decode(encoded)
        assert(table.concat(some_map) == table.concat(decoded))
        cjson.encode_keep_buffer(false)
        encoded = cjson.encode(some_map)
        decoded = cjson.decode(encoded)
        assert(table.concat(some_map) == table.concat(decoded))
        local table1 = {one="one", [1]="one"}
        encoded = cjson.encode(table1)
        decoded = cjson.decode(encoded)
        assert(decoded["one"] == table1["one"])
        assert(decoded["1"] == table1[1])
        local array1 = {[1]="one", [2]="two"}
        encoded = cjson.encode(array1)
        decoded = cjson.decode(encoded)
        assert(table.concat(array1) == table.concat(decoded))
        local invalid_map = {}
        invalid_map[false] = "false"
        local ok, encoded = pcall(cjson.encode, invalid_map)
        assert(ok == false)
        cjson.encode_max_depth(1)
        ok, encoded = pcall(cjson.encode, some_map)
        assert(ok == false)
        cjson.decode_max_depth(1)
        ok, decoded = pcall(cjson.decode, '{"obj": {"array": [1,2,3,4]}}')
        assert(ok == false)
        ok, encoded = pcall(cjson.encode, {num1=0/0})
        assert(ok == false)
        cjson.encode_invalid_numbers(true)
        ok, encoded = pcall(cjson.encode, {num1=0/0})
        assert(ok == true)
        cjson.decode_max_depth(1000)
        cjson.encode_max_depth(1000)
        cjson.encode_invalid_numbers(false)
        return "ok"
    "#;
    assert_eq!(run(&state(), script), "ok");
}

#[test]
fn round_trips() {
    let lua = state();
    let script = r#"
        local docs = {
            '[1,2,3]', '{"a":{"b":[true,false,null]}}', '"x\\u0001\\/"', '[{},[1]]', '[0.5,-1e-07,1e+300]',
            '["\\u0001é😀"]', '[1,null,3]', '{"k":"v"}',
        }
        for _, doc in ipairs(docs) do
            local again = cjson.encode(cjson.decode(doc))
            if again ~= doc then return doc .. ' -> ' .. again end
        end
        return "ok"
    "#;
    assert_eq!(run(&lua, script), "ok");
}

/// `format_g` against the C library's `%.<p>g` (Lua's `string.format`),
/// on random doubles, integers and halfway cases, at every precision.
#[test]
fn format_g_matches_printf() {
    let lua = state();
    let printf: Function =
        lua.load("return function(p, x) return string.format('%.' .. p .. 'g', x) end").eval().expect("chunk");
    let mut rng = fastrand::Rng::with_seed(7);
    let mut values = vec![0.5, 1.5, 2.5, 0.125, 0.375, 1e15, 1e16, 123456.5, 9.5, 99.5, 0.00001, 0.0001, 1e-5];
    values.extend((0..3000).map(|_| f64::from_bits(rng.u64(..))).filter(|x| x.is_finite()));
    values.extend((0..1000).map(|_| rng.i64(-1_000_000_000_000..1_000_000_000_000) as f64 / 8.0));
    values.extend((0..1000).map(|_| rng.f64() * 10f64.powi(rng.i32(-8..20))));
    values.extend((0..1000).map(|_| rng.i64(-10i64.pow(16)..10i64.pow(16)) as f64));
    values.extend((0..17).flat_map(|e| [10f64.powi(e), 10f64.powi(e) - 1.0, -(10f64.powi(e) + 1.0), 10f64.powi(-e)]));
    for x in values {
        for p in 1..=14 {
            let mut mine = Vec::new();
            format_g(&mut mine, x, p);
            let c: mlua::LuaString = printf.call((p, x)).expect("format");
            assert_eq!(String::from_utf8_lossy(&mine), c.to_string_lossy(), "%.{p}g of {x:e}");
        }
    }
}

/// `strtod` against the C library's (Lua's `tonumber` is `strtod` on the
/// whole string).
#[test]
fn strtod_matches_libc() {
    let lua = state();
    let tonumber: Function = lua.load("return tonumber").eval().expect("chunk");
    let mut texts: Vec<String> = [
        "0",
        "-0",
        "1",
        "1.",
        ".5",
        "1e5",
        "1E+05",
        "1e-400",
        "1e400",
        "4.9e-324",
        "2.4703282292062327e-324",
        "2.4703282292062328e-324",
        "1.7976931348623157e308",
        "1.7976931348623159e308",
        "0x1p-1074",
        "0x1p-1075",
        "0x1.8p-1074",
        "0x3p-1075",
        "0x1.fffffffffffff8p1023",
        "0x1.fffffffffffff7ffp1023",
        "0x.1",
        "0x1.",
        "0xABCDEF",
        "0x123456789abcdef0123",
        "0x1.000000000000080000001p0",
        "inf",
        "-Infinity",
        "nan",
        "-nan",
        "NaN(abc_1)",
        "0.1e-1099511627776",
        "1e1099511627776",
        "123456789012345678901234567890e-20",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut rng = fastrand::Rng::with_seed(11);
    let alphabet = b"0123456789.eE+-xXpPaf";
    for _ in 0..20000 {
        let len = rng.usize(1..14);
        texts.push((0..len).map(|_| alphabet[rng.usize(..alphabet.len())] as char).collect());
    }
    for text in texts {
        let mine = strtod(text.as_bytes()).filter(|&(_, len)| len == text.len()).map(|(n, _)| n);
        let c: Option<f64> = tonumber.call(text.as_str()).expect("tonumber");
        // Lua also reads plain hex integers itself (and would not stop at
        // a trailing 'x' the way strtod does); compare where strtod decides.
        if text.contains(['x', 'X']) && mine.is_none() {
            continue;
        }
        assert_eq!(mine.map(f64::to_bits), c.map(f64::to_bits), "strtod({text:?})");
    }
}

/// Deep nesting keeps every level in its place (the table stack spills
/// levels into a Lua table past a few dozen).
#[test]
fn deep_nesting_keeps_levels_in_order() {
    let script = r#"
        local n = 900
        local parts = {}
        for i = 1, n do parts[#parts + 1] = '[' .. i .. ',{"k":' .. i .. ',"v":' end
        parts[#parts + 1] = 'null'
        for i = 1, n do parts[#parts + 1] = '}]' end
        local text = table.concat(parts)
        cjson.decode_max_depth(2000)
        local t = cjson.decode(text)
        for i = 1, n do
            if t[1] ~= i or t[2].k ~= i then return 'bad level ' .. i end
            t = t[2].v
        end
        if t ~= cjson.null then return 'bad innermost' end
        cjson.encode_max_depth(2000)
        local back = cjson.decode(cjson.encode(cjson.decode(text)))
        for i = 1, n do
            if back[1] ~= i or back[2].k ~= i then return 'bad re-encoded level ' .. i end
            back = back[2].v
        end
        return 'ok'
    "#;
    assert_eq!(run(&state(), script), "ok");
}

/// The library table's fields are set in lua-cjson's order, so `pairs`
/// visits them as in Redis (reference: `cmsgpack.pack(cjson)` there).
#[test]
fn fields_in_redis_order() {
    let lua = state();
    let got = run(
        &lua,
        "return (string.gsub(cmsgpack.pack(cjson), '.', function(c) return string.format('%02x', string.byte(c)) end))",
    );
    assert_eq!(
        got,
        "8da55f4e414d45a5636a736f6ea6656e636f6465c0b06465636f64655f6d61785f6465707468c0a85f56455253494f4ea5322e312e30b6\
         6465636f64655f696e76616c69645f6e756d62657273c0b2656e636f64655f6b6565705f627566666572c0a46e756c6cc0b7656e636f\
         64655f6e756d6265725f707265636973696f6ec0a36e6577c0b0656e636f64655f6d61785f6465707468c0b6656e636f64655f696e76\
         616c69645f6e756d62657273c0a66465636f6465c0b3656e636f64655f7370617273655f6172726179c0"
    );
}
