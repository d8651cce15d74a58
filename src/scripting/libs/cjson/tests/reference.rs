//! Reference outputs below were taken from redis-server 7.0.15 with the
//! same expressions (see `testing::eval` for the output format). Each list
//! runs in order on one state, as on one server: configuration changes
//! carry over.

use crate::scripting::libs::cfunction::testing::piped::check_all;
use crate::scripting::libs::cfunction::testing::state;

#[test]
fn encode_matches_redis() {
    check_all(
        &state(),
        &[
            (r#"cjson.encode({1,2,{a=1}})"#, r#"true | [1,2,{"a":1}]"#),
            (r#"cjson.encode({[2^31]=1})"#, r#"true | {"2147483648":1}"#),
            (r#"cjson.encode({[2^40]=1})"#, r#"true | {"1099511627776":1}"#),
            (r#"cjson.encode({[1]=1,[2^31]=1})"#, r#"true | {"1":1,"2147483648":1}"#),
            (r#"cjson.encode({1,nil,3})"#, r#"true | [1,null,3]"#),
            (
                r#"cjson.encode({[1]=1,[20]=2})"#,
                r#"false | user_script:1: Cannot serialise table: excessively sparse array"#,
            ),
            (r#"cjson.encode({[1]=1,[10]=2})"#, r#"true | [1,null,null,null,null,null,null,null,null,2]"#),
            (
                r#"cjson.encode({[1]=1,[11]=2})"#,
                r#"false | user_script:1: Cannot serialise table: excessively sparse array"#,
            ),
            (
                r#"cjson.encode({[1]=1,[2]=2,[11]=2})"#,
                r#"false | user_script:1: Cannot serialise table: excessively sparse array"#,
            ),
            (
                r#"cjson.encode({[3]=1,[4]=2,[5]=3,[6]=4,[12]=5})"#,
                r#"false | user_script:1: Cannot serialise table: excessively sparse array"#,
            ),
            (r#"cjson.encode({[0]=1})"#, r#"true | {"0":1}"#),
            (r#"cjson.encode({[-1]=1})"#, r#"true | {"-1":1}"#),
            (r#"cjson.encode({[1.5]=1})"#, r#"true | {"1.5":1}"#),
            (r#"cjson.encode({[1]=1, x=2})"#, r#"true | {"1":1,"x":2}"#),
            (
                r#"cjson.encode('a/b"c\\d\1\127\8\9\10\11\12\13\31 é')"#,
                r#"true | "a\/b\"c\\d\u0001\u007f\b\t\n\u000b\f\r\u001f é""#,
            ),
            (r#"cjson.encode('\0')"#, r#"true | "\u0000""#),
            (r#"hex(cjson.encode(string.char(128, 255)))"#, r#"true | 2280ff22"#),
            (r#"cjson.encode(0.1)"#, r#"true | 0.1"#),
            (r#"cjson.encode(1/3)"#, r#"true | 0.33333333333333"#),
            (r#"cjson.encode(-1/3)"#, r#"true | -0.33333333333333"#),
            (r#"cjson.encode(1e300)"#, r#"true | 1e+300"#),
            (r#"cjson.encode(-1e-300)"#, r#"true | -1e-300"#),
            (r#"cjson.encode(-0)"#, r#"true | -0"#),
            (r#"cjson.encode(0)"#, r#"true | 0"#),
            (r#"cjson.encode(100)"#, r#"true | 100"#),
            (r#"cjson.encode(123456789012345)"#, r#"true | 1.2345678901234e+14"#),
            (r#"cjson.encode(12345678901234)"#, r#"true | 12345678901234"#),
            (r#"cjson.encode(2^53)"#, r#"true | 9.007199254741e+15"#),
            (r#"cjson.encode(1e-5)"#, r#"true | 1e-05"#),
            (r#"cjson.encode(0.0001)"#, r#"true | 0.0001"#),
            (r#"cjson.encode(123e-7)"#, r#"true | 1.23e-05"#),
            (r#"cjson.encode(1e14)"#, r#"true | 1e+14"#),
            (r#"cjson.encode(1e15)"#, r#"true | 1e+15"#),
            (r#"cjson.encode(5e-324)"#, r#"true | 4.9406564584125e-324"#),
            (r#"cjson.encode(0/0)"#, r#"false | user_script:1: Cannot serialise number: must not be NaN or Inf"#),
            (r#"cjson.encode(1/0)"#, r#"false | user_script:1: Cannot serialise number: must not be NaN or Inf"#),
            (r#"cjson.encode(-1/0)"#, r#"false | user_script:1: Cannot serialise number: must not be NaN or Inf"#),
            (r#"cjson.encode({[1/0]=1})"#, r#"false | user_script:1: Cannot serialise number: must not be NaN or Inf"#),
            (
                r#"cjson.encode({[true]=1})"#,
                r#"false | user_script:1: Cannot serialise boolean: table key must be a number or string"#,
            ),
            (
                r#"cjson.encode({[{}]=1})"#,
                r#"false | user_script:1: Cannot serialise table: table key must be a number or string"#,
            ),
            (
                r#"cjson.encode({x=1, [false]=2})"#,
                r#"false | user_script:1: Cannot serialise boolean: table key must be a number or string"#,
            ),
            (r#"cjson.encode(nil)"#, r#"true | null"#),
            (r#"cjson.encode()"#, r#"false | user_script:1: bad argument #1 to 'encode' (expected 1 argument)"#),
            (r#"cjson.encode(1, 2)"#, r#"false | user_script:1: bad argument #1 to 'encode' (expected 1 argument)"#),
            (r#"cjson.encode(cjson.null)"#, r#"true | null"#),
            (r#"cjson.encode({cjson.null, 1})"#, r#"true | [null,1]"#),
            (r#"cjson.encode(true)"#, r#"true | true"#),
            (r#"cjson.encode({true, false})"#, r#"true | [true,false]"#),
            (
                r#"cjson.encode(function() end)"#,
                r#"false | user_script:1: Cannot serialise function: type not supported"#,
            ),
            (
                r#"cjson.encode({f=function() end})"#,
                r#"false | user_script:1: Cannot serialise function: type not supported"#,
            ),
            (
                r#"cjson.encode(coroutine.create(function() end))"#,
                r#"false | user_script:1: Cannot serialise thread: type not supported"#,
            ),
            (r#"cjson.encode({})"#, r#"true | {}"#),
            (r#"cjson.encode({{}})"#, r#"true | [{}]"#),
            (r#"cjson.encode({{{}}, {a={}}})"#, r#"true | [[{}],{"a":{}}]"#),
            (r#"cjson.encode({a={b={c={1,2,3}}}})"#, r#"true | {"a":{"b":{"c":[1,2,3]}}}"#),
            (r#"cjson.encode("x")"#, r#"true | "x""#),
            (r#"cjson.encode({"a", "b", "c"})"#, r#"true | ["a","b","c"]"#),
            (r#"cjson.encode({[1]="a", [2]="b", [4]="d"})"#, r#"true | ["a","b",null,"d"]"#),
            (r#"cjson.encode({[1]={}, [3]={1}})"#, r#"true | [{},null,[1]]"#),
            (r#"cjson.encode({n=1.5, s="x"})"#, r#"true | {"s":"x","n":1.5}"#),
            (r#"cjson:encode()"#, r#"false | user_script:1: Cannot serialise function: type not supported"#),
            (r#"cjson.encode(cjson)"#, r#"false | user_script:1: Cannot serialise function: type not supported"#),
            (
                r#"(function() local t = {} local c = t for i=1,999 do c[1] = {} c = c[1] end return #cjson.encode(t) end)()"#,
                r#"true | 2000"#,
            ),
            (
                r#"(function() local t = {} local c = t for i=1,1000 do c[1] = {} c = c[1] end return cjson.encode(t) end)()"#,
                r#"false | user_script:1: Cannot serialise, excessive nesting (1001)"#,
            ),
            (
                r#"(function() local a = {} a[1] = a return cjson.encode(a) end)()"#,
                r#"false | user_script:1: Cannot serialise, excessive nesting (1001)"#,
            ),
            (
                r#"(function() local a = {} a.x = a return cjson.encode(a) end)()"#,
                r#"false | user_script:1: Cannot serialise, excessive nesting (1001)"#,
            ),
            (
                r#"(function() local a = {} a.x = {1, 2, a} return cjson.encode(a) end)()"#,
                r#"false | user_script:1: Cannot serialise, excessive nesting (1001)"#,
            ),
        ],
    );
}

#[test]
fn decode_matches_redis() {
    check_all(
        &state(),
        &[
            (r#"cjson.decode('x')"#, r#"false | user_script:1: Expected value but found invalid token at character 1"#),
            (r#"cjson.decode('')"#, r#"false | user_script:1: Expected value but found T_END at character 1"#),
            (r#"cjson.decode('  ')"#, r#"false | user_script:1: Expected value but found T_END at character 3"#),
            (r#"cjson.decode(' \t\r\n1 \t\r\n')"#, r#"true | 1"#),
            (
                r#"cjson.decode('\f1')"#,
                r#"false | user_script:1: Expected value but found invalid token at character 1"#,
            ),
            (
                r#"cjson.decode('[1,2')"#,
                r#"false | user_script:1: Expected comma or array end but found T_END at character 5"#,
            ),
            (
                r#"cjson.decode('[1,2,]')"#,
                r#"false | user_script:1: Expected value but found T_ARR_END at character 6"#,
            ),
            (
                r#"cjson.decode('[1 2]')"#,
                r#"false | user_script:1: Expected comma or array end but found T_NUMBER at character 4"#,
            ),
            (r#"cjson.decode('[,]')"#, r#"false | user_script:1: Expected value but found T_COMMA at character 2"#),
            (r#"cjson.decode(']')"#, r#"false | user_script:1: Expected value but found T_ARR_END at character 1"#),
            (
                r#"cjson.decode('{"a" 1}')"#,
                r#"false | user_script:1: Expected colon but found T_NUMBER at character 6"#,
            ),
            (
                r#"cjson.decode('{1:2}')"#,
                r#"false | user_script:1: Expected object key string but found T_NUMBER at character 2"#,
            ),
            (
                r#"cjson.decode('{"a":1,}')"#,
                r#"false | user_script:1: Expected object key string but found T_OBJ_END at character 8"#,
            ),
            (
                r#"cjson.decode('{"a":1 "b":2}')"#,
                r#"false | user_script:1: Expected comma or object end but found T_STRING at character 8"#,
            ),
            (
                r#"cjson.decode('{"a":}')"#,
                r#"false | user_script:1: Expected value but found T_OBJ_END at character 6"#,
            ),
            (r#"cjson.decode('{"a"')"#, r#"false | user_script:1: Expected colon but found T_END at character 5"#),
            (
                r#"cjson.decode('{')"#,
                r#"false | user_script:1: Expected object key string but found T_END at character 2"#,
            ),
            (r#"cjson.decode(':')"#, r#"false | user_script:1: Expected value but found T_COLON at character 1"#),
            (
                r#"cjson.decode('"abc')"#,
                r#"false | user_script:1: Expected value but found unexpected end of string at character 5"#,
            ),
            (
                r#"cjson.decode('"a\\qb"')"#,
                r#"false | user_script:1: Expected value but found invalid escape code at character 3"#,
            ),
            (
                r#"cjson.decode('"a\\u12"')"#,
                r#"false | user_script:1: Expected value but found invalid unicode escape code at character 3"#,
            ),
            (
                r#"cjson.decode('"a\\u12g4"')"#,
                r#"false | user_script:1: Expected value but found invalid unicode escape code at character 3"#,
            ),
            (
                r#"cjson.decode('"\\ud800"')"#,
                r#"false | user_script:1: Expected value but found invalid unicode escape code at character 2"#,
            ),
            (
                r#"cjson.decode('"\\ud800\\u0041"')"#,
                r#"false | user_script:1: Expected value but found invalid unicode escape code at character 2"#,
            ),
            (
                r#"cjson.decode('"\\ud800x"')"#,
                r#"false | user_script:1: Expected value but found invalid unicode escape code at character 2"#,
            ),
            (
                r#"cjson.decode('"\\udc00"')"#,
                r#"false | user_script:1: Expected value but found invalid unicode escape code at character 2"#,
            ),
            (r#"cjson.decode('"\\ud83d\\ude00"')"#, r#"true | 😀"#),
            (r#"cjson.decode('"\\uD83D\\uDE00"')"#, r#"true | 😀"#),
            (r#"cjson.decode('"\\u00e9\\u0041\\/"')"#, r#"true | éA/"#),
            (r#"cjson.decode('"\\u20AC\\u07ff\\u0800"')"#, r#"true | €߿ࠀ"#),
            (r#"hex(cjson.decode('"\\u0000"'))"#, r#"true | 00"#),
            (r#"cjson.decode('"\\"\\\\\\/\\b\\f\\n\\r\\t"') == '"\\/\b\f\n\r\t'"#, r#"true | true"#),
            (
                r#"cjson.decode('"a\\')"#,
                r#"false | user_script:1: Expected value but found invalid escape code at character 3"#,
            ),
            (r#"cjson.decode('"tab\there"')"#, r#"true | tab	here"#),
            (
                r#"cjson.decode('[1]x')"#,
                r#"false | user_script:1: Expected the end but found invalid token at character 4"#,
            ),
            (
                r#"cjson.decode('truex')"#,
                r#"false | user_script:1: Expected the end but found invalid token at character 5"#,
            ),
            (r#"cjson.decode('true')"#, r#"true | true"#),
            (r#"cjson.decode('false')"#, r#"true | false"#),
            (
                r#"cjson.decode('tru')"#,
                r#"false | user_script:1: Expected value but found invalid token at character 1"#,
            ),
            (
                r#"cjson.decode('nul')"#,
                r#"false | user_script:1: Expected value but found invalid token at character 1"#,
            ),
            (r#"cjson.decode('null')"#, r#"true | userdata: (nil)"#),
            (r#"cjson.decode('[null]')[1] == cjson.null"#, r#"true | true"#),
            (r#"cjson.decode('{"a":null}').a == cjson.null"#, r#"true | true"#),
            (r#"cjson.decode('nan')"#, r#"true | nan"#),
            (r#"cjson.decode('-inf')"#, r#"true | -inf"#),
            (r#"cjson.decode('Infinity')"#, r#"true | inf"#),
            (r#"cjson.decode('infinity')"#, r#"true | inf"#),
            (r#"cjson.decode('INF')"#, r#"true | inf"#),
            (r#"cjson.decode('NaN')"#, r#"true | nan"#),
            (
                r#"cjson.decode('in')"#,
                r#"false | user_script:1: Expected value but found invalid token at character 1"#,
            ),
            (r#"cjson.decode('nan(123)')"#, r#"true | nan"#),
            (r#"cjson.decode('-nan')"#, r#"true | -nan"#),
            (r#"cjson.decode('0x10')"#, r#"true | 16"#),
            (r#"cjson.decode('0X1f')"#, r#"true | 31"#),
            (
                r#"cjson.decode('0x')"#,
                r#"false | user_script:1: Expected the end but found invalid token at character 2"#,
            ),
            (r#"cjson.decode('-0x10')"#, r#"true | -16"#),
            (r#"cjson.decode('0x1p3')"#, r#"true | 8"#),
            (r#"cjson.decode('0x.8')"#, r#"true | 0.5"#),
            (r#"cjson.decode('0x1.8p1')"#, r#"true | 3"#),
            (r#"cjson.decode('+5')"#, r#"true | 5"#),
            (
                r#"cjson.decode('+')"#,
                r#"false | user_script:1: Expected value but found invalid number at character 1"#,
            ),
            (
                r#"cjson.decode('-')"#,
                r#"false | user_script:1: Expected value but found invalid number at character 1"#,
            ),
            (
                r#"cjson.decode('- 1')"#,
                r#"false | user_script:1: Expected value but found invalid number at character 1"#,
            ),
            (r#"cjson.decode('01')"#, r#"true | 1"#),
            (r#"cjson.decode('-01')"#, r#"true | -1"#),
            (r#"cjson.decode('1.')"#, r#"true | 1"#),
            (
                r#"cjson.decode('.5')"#,
                r#"false | user_script:1: Expected value but found invalid token at character 1"#,
            ),
            (r#"cjson.decode('-.5')"#, r#"true | -0.5"#),
            (
                r#"cjson.decode('1e')"#,
                r#"false | user_script:1: Expected the end but found invalid token at character 2"#,
            ),
            (
                r#"cjson.decode('1e+')"#,
                r#"false | user_script:1: Expected the end but found invalid token at character 2"#,
            ),
            (r#"cjson.decode('1e5')"#, r#"true | 100000"#),
            (r#"cjson.decode('1E-2')"#, r#"true | 0.01"#),
            (r#"cjson.decode('1e400')"#, r#"true | inf"#),
            (r#"cjson.decode('-1e400')"#, r#"true | -inf"#),
            (r#"cjson.decode('1e-400')"#, r#"true | 0"#),
            (r#"cjson.decode('0.1')"#, r#"true | 0.1"#),
            (r#"cjson.decode('123456789012345678901234567890')"#, r#"true | 1.2345678901235e+29"#),
            (r#"cjson.decode('[1,2,3]')[3]"#, r#"true | 3"#),
            (r#"#cjson.decode('[1,2,3]')"#, r#"true | 3"#),
            (
                r#"table.concat(cjson.decode("[0.0, -5e3, -1, 0.3e-3, 1023.2, 0e10]"), " ")"#,
                r#"true | 0 -5000 -1 0.0003 1023.2 0"#,
            ),
            (r#"cjson.decode('{"keya": "a", "keyb": "b"}').keyb"#, r#"true | b"#),
            (r#"cjson.decode('{"a": 1, "a": 2}').a"#, r#"true | 2"#),
            (r#"cjson.decode('{"a": [1, {"b": [true]}]}').a[2].b[1]"#, r#"true | true"#),
            (r#"cjson.decode(' [ ] ')[1]"#, r#"true"#),
            (r#"next(cjson.decode('{}'))"#, r#"true"#),
            (r#"cjson.decode(123)"#, r#"true | 123"#),
            (r#"cjson.decode(1.5)"#, r#"true | 1.5"#),
            (
                r#"cjson.decode(nil)"#,
                r#"false | user_script:1: bad argument #1 to 'decode' (string expected, got nil)"#,
            ),
            (r#"cjson.decode()"#, r#"false | user_script:1: bad argument #1 to 'decode' (expected 1 argument)"#),
            (
                r#"cjson.decode('1', '2')"#,
                r#"false | user_script:1: bad argument #1 to 'decode' (expected 1 argument)"#,
            ),
            (
                r#"cjson.decode({})"#,
                r#"false | user_script:1: bad argument #1 to 'decode' (string expected, got table)"#,
            ),
            (
                r#"cjson.decode(true)"#,
                r#"false | user_script:1: bad argument #1 to 'decode' (string expected, got boolean)"#,
            ),
            (
                r#"cjson:decode()"#,
                r#"false | user_script:1: calling 'decode' on bad self (string expected, got table)"#,
            ),
            (r#"cjson.decode('a\0')"#, r#"false | user_script:1: JSON parser does not support UTF-16 or UTF-32"#),
            (r#"cjson.decode('\0a')"#, r#"false | user_script:1: JSON parser does not support UTF-16 or UTF-32"#),
            (r#"cjson.decode('[1]\0xx')[1]"#, r#"true | 1"#),
            (r#"cjson.decode('1\0')"#, r#"false | user_script:1: JSON parser does not support UTF-16 or UTF-32"#),
            (
                r#"cjson.decode('"a\0b"')"#,
                r#"false | user_script:1: Expected value but found unexpected end of string at character 3"#,
            ),
            (
                r#"cjson.decode('[1\0]')"#,
                r#"false | user_script:1: Expected comma or array end but found T_END at character 3"#,
            ),
            (r#"cjson.decode(string.rep('[', 1000) .. string.rep(']', 1000)) ~= nil"#, r#"true | true"#),
            (
                r#"cjson.decode(string.rep('[', 1001) .. string.rep(']', 1001))"#,
                r#"false | user_script:1: Found too many nested data structures (1001) at character 1001"#,
            ),
            (
                r#"cjson.decode(string.rep('{"a":', 1001))"#,
                r#"false | user_script:1: Found too many nested data structures (1001) at character 5001"#,
            ),
            (
                r#"cjson.decode(string.rep('[', 1001))"#,
                r#"false | user_script:1: Found too many nested data structures (1001) at character 1001"#,
            ),
            (r#"cjson.decode('[[[[')"#, r#"false | user_script:1: Expected value but found T_END at character 5"#),
            (
                r#"cjson.decode('[[[[]]]')"#,
                r#"false | user_script:1: Expected comma or array end but found T_END at character 8"#,
            ),
            (r#"cjson.decode('[{"a":[{}]}]')[1].a[1] ~= nil"#, r#"true | true"#),
        ],
    );
}

#[test]
fn configuration_matches_redis() {
    check_all(
        &state(),
        &[
            (r#"cjson._NAME"#, r#"true | cjson"#),
            (r#"cjson._VERSION"#, r#"true | 2.1.0"#),
            (r#"type(cjson.new)"#, r#"true | function"#),
            (r#"cjson.null"#, r#"true | userdata: (nil)"#),
            (r#"cjson.encode_sparse_array()"#, r#"true | false | 2 | 10"#),
            (r#"cjson.encode_max_depth()"#, r#"true | 1000"#),
            (r#"cjson.decode_max_depth()"#, r#"true | 1000"#),
            (r#"cjson.encode_number_precision()"#, r#"true | 14"#),
            (r#"cjson.encode_keep_buffer()"#, r#"true | true"#),
            (r#"cjson.encode_invalid_numbers()"#, r#"true | false"#),
            (r#"cjson.decode_invalid_numbers()"#, r#"true | true"#),
            (
                r#"cjson.encode_sparse_array('yes')"#,
                r#"false | user_script:1: bad argument #1 to 'encode_sparse_array' (invalid option 'yes')"#,
            ),
            (
                r#"cjson.encode_sparse_array(1)"#,
                r#"false | user_script:1: bad argument #1 to 'encode_sparse_array' (invalid option '1')"#,
            ),
            (
                r#"cjson.encode_sparse_array({})"#,
                r#"false | user_script:1: bad argument #1 to 'encode_sparse_array' (string expected, got table)"#,
            ),
            (
                r#"cjson.encode_sparse_array(nil, -1)"#,
                r#"false | user_script:1: bad argument #1 to 'encode_sparse_array' (expected integer between 0 and 2147483647)"#,
            ),
            (
                r#"cjson.encode_sparse_array(nil, nil, 'a')"#,
                r#"false | user_script:1: bad argument #3 to 'encode_sparse_array' (number expected, got string)"#,
            ),
            (
                r#"cjson.encode_sparse_array(nil, nil, nil, 1)"#,
                r#"false | user_script:1: bad argument #4 to 'encode_sparse_array' (found too many arguments)"#,
            ),
            (r#"cjson.encode_sparse_array('on\0x')"#, r#"true | true | 2 | 10"#),
            (
                r#"cjson.encode_sparse_array('of\0x')"#,
                r#"false | user_script:1: bad argument #1 to 'encode_sparse_array' (invalid option 'of')"#,
            ),
            (r#"cjson.encode_sparse_array(nil, 2.7)"#, r#"true | true | 2 | 10"#),
            (r#"cjson.encode_sparse_array(nil, '3')"#, r#"true | true | 3 | 10"#),
            (r#"cjson.encode_sparse_array(nil, nil, 5)"#, r#"true | true | 3 | 5"#),
            (r#"cjson.encode({[1]=1,[11]=2})"#, r#"true | {"1":1,"11":2}"#),
            (r#"cjson.encode({[1]=1,[20]=2})"#, r#"true | {"1":1,"20":2}"#),
            (r#"cjson.encode_sparse_array(false, 0, 10)"#, r#"true | false | 0 | 10"#),
            (r#"#cjson.encode({[1]=1,[30]=2})"#, r#"true | 145"#),
            (
                r#"cjson.encode({[1]=1,[30]=2})"#,
                r#"true | [1,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,2]"#,
            ),
            (r#"cjson.encode_sparse_array(true, 2, 10)"#, r#"true | true | 2 | 10"#),
            (r#"cjson.encode({[1]=1,[30]=2})"#, r#"true | {"1":1,"30":2}"#),
            (r#"cjson.encode_sparse_array(false, 1, 0)"#, r#"true | false | 1 | 0"#),
            (r#"cjson.encode({[1]=1,[2]=2})"#, r#"true | [1,2]"#),
            (
                r#"cjson.encode({[1]=1,[3]=2})"#,
                r#"false | user_script:1: Cannot serialise table: excessively sparse array"#,
            ),
            (r#"cjson.encode_sparse_array(false, 2, 10)"#, r#"true | false | 2 | 10"#),
            (r#"cjson.encode_max_depth(2^32+5)"#, r#"true | 5"#),
            (
                r#"cjson.encode_max_depth(2^31)"#,
                r#"false | user_script:1: bad argument #1 to 'encode_max_depth' (expected integer between 1 and 2147483647)"#,
            ),
            (
                r#"cjson.encode_max_depth(0)"#,
                r#"false | user_script:1: bad argument #1 to 'encode_max_depth' (expected integer between 1 and 2147483647)"#,
            ),
            (r#"cjson.encode_max_depth(1.9)"#, r#"true | 1"#),
            (r#"cjson.encode({1})"#, r#"true | [1]"#),
            (r#"cjson.encode({{1}})"#, r#"false | user_script:1: Cannot serialise, excessive nesting (2)"#),
            (r#"cjson.encode_max_depth('2')"#, r#"true | 2"#),
            (r#"cjson.encode({{1}})"#, r#"true | [[1]]"#),
            (r#"cjson.encode({{{1}}})"#, r#"false | user_script:1: Cannot serialise, excessive nesting (3)"#),
            (r#"cjson.encode_max_depth(1000)"#, r#"true | 1000"#),
            (
                r#"cjson.encode_max_depth('x')"#,
                r#"false | user_script:1: bad argument #1 to 'encode_max_depth' (number expected, got string)"#,
            ),
            (
                r#"cjson.encode_max_depth(1, 2)"#,
                r#"false | user_script:1: bad argument #2 to 'encode_max_depth' (found too many arguments)"#,
            ),
            (
                r#"cjson:encode_max_depth()"#,
                r#"false | user_script:1: calling 'encode_max_depth' on bad self (number expected, got table)"#,
            ),
            (r#"cjson.decode_max_depth(1)"#, r#"true | 1"#),
            (r#"cjson.decode('[1]')[1]"#, r#"true | 1"#),
            (
                r#"cjson.decode('[[1]]')"#,
                r#"false | user_script:1: Found too many nested data structures (2) at character 2"#,
            ),
            (
                r#"cjson.decode('{"obj": {"array": [1,2,3,4]}}')"#,
                r#"false | user_script:1: Found too many nested data structures (2) at character 9"#,
            ),
            (r#"cjson.decode_max_depth(1000)"#, r#"true | 1000"#),
            (
                r#"cjson.encode_number_precision(15)"#,
                r#"false | user_script:1: bad argument #1 to 'encode_number_precision' (expected integer between 1 and 14)"#,
            ),
            (
                r#"cjson.encode_number_precision(0)"#,
                r#"false | user_script:1: bad argument #1 to 'encode_number_precision' (expected integer between 1 and 14)"#,
            ),
            (r#"cjson.encode_number_precision(3)"#, r#"true | 3"#),
            (r#"cjson.encode({1/3, 1234.5, 1e-7, 100, 12345})"#, r#"true | [0.333,1.23e+03,1e-07,100,1.23e+04]"#),
            (r#"cjson.encode_number_precision(1)"#, r#"true | 1"#),
            (r#"cjson.encode({1/3, 1234.5, 0.95, 100, 12345})"#, r#"true | [0.3,1e+03,0.9,1e+02,1e+04]"#),
            (r#"cjson.encode_number_precision(14)"#, r#"true | 14"#),
            (r#"cjson.encode_keep_buffer('off')"#, r#"true | false"#),
            (r#"cjson.encode({1,2})"#, r#"true | [1,2]"#),
            (r#"cjson.encode_keep_buffer(true)"#, r#"true | true"#),
            (
                r#"cjson.encode_keep_buffer('xx')"#,
                r#"false | user_script:1: bad argument #1 to 'encode_keep_buffer' (invalid option 'xx')"#,
            ),
            (
                r#"cjson.encode_invalid_numbers(2)"#,
                r#"false | user_script:1: bad argument #1 to 'encode_invalid_numbers' (invalid option '2')"#,
            ),
            (r#"cjson.encode_invalid_numbers('on')"#, r#"true | true"#),
            (r#"cjson.encode({0/0, 1/0, -1/0, -(0/0)})"#, r#"true | [nan,inf,-inf,nan]"#),
            (r#"cjson.encode({[1/0]=1})"#, r#"true | {"inf":1}"#),
            (r#"cjson.encode_invalid_numbers('null')"#, r#"true | null"#),
            (r#"cjson.encode({0/0, 1/0, -1/0})"#, r#"true | [null,null,null]"#),
            (r#"cjson.encode({[1/0]=1})"#, r#"true | {"null":1}"#),
            (r#"cjson.encode_invalid_numbers(false)"#, r#"true | false"#),
            (r#"cjson.encode_invalid_numbers(true)"#, r#"true | true"#),
            (r#"cjson.encode_invalid_numbers('off')"#, r#"true | false"#),
            (
                r#"cjson.decode_invalid_numbers('null')"#,
                r#"false | user_script:1: bad argument #1 to 'decode_invalid_numbers' (invalid option 'null')"#,
            ),
            (r#"cjson.decode_invalid_numbers(false)"#, r#"true | false"#),
            (
                r#"cjson.decode('nan')"#,
                r#"false | user_script:1: Expected value but found invalid token at character 1"#,
            ),
            (
                r#"cjson.decode('-inf')"#,
                r#"false | user_script:1: Expected value but found invalid number at character 1"#,
            ),
            (
                r#"cjson.decode('Infinity')"#,
                r#"false | user_script:1: Expected value but found invalid token at character 1"#,
            ),
            (
                r#"cjson.decode('0x10')"#,
                r#"false | user_script:1: Expected value but found invalid number at character 1"#,
            ),
            (
                r#"cjson.decode('01')"#,
                r#"false | user_script:1: Expected value but found invalid number at character 1"#,
            ),
            (
                r#"cjson.decode('-01')"#,
                r#"false | user_script:1: Expected value but found invalid number at character 1"#,
            ),
            (
                r#"cjson.decode('+1')"#,
                r#"false | user_script:1: Expected value but found invalid token at character 1"#,
            ),
            (r#"cjson.decode('-0')"#, r#"true | -0"#),
            (r#"cjson.decode('0')"#, r#"true | 0"#),
            (r#"cjson.decode('[0.5, -1]')[2]"#, r#"true | -1"#),
            (
                r#"cjson.decode('-')"#,
                r#"false | user_script:1: Expected value but found invalid number at character 1"#,
            ),
            (r#"cjson.decode_invalid_numbers('on')"#, r#"true | true"#),
            (r#"cjson.decode('0x10')"#, r#"true | 16"#),
            (r#"cjson.new().encode({1})"#, r#"true | [1]"#),
            (r#"cjson.new() == cjson"#, r#"true | false"#),
            (r#"cjson.new().encode_max_depth()"#, r#"true | 1000"#),
            (
                r#"(function() local c = cjson.new() c.encode_max_depth(5) return c.encode_max_depth(), cjson.encode_max_depth() end)()"#,
                r#"true | 5 | 1000"#,
            ),
            (r#"cjson.new().null == cjson.null"#, r#"true | true"#),
            (r#"cjson.new().new().decode('[2]')[1]"#, r#"true | 2"#),
        ],
    );
}

/// With the depth limits raised, the 8000 stack slots of a C function
/// limit nesting.
#[test]
fn stack_limits_match_redis() {
    check_all(
        &state(),
        &[
            (
                r#"(function() cjson.decode_max_depth(100000) local ok, e = pcall(cjson.decode, string.rep('[', 9000)) cjson.decode_max_depth(1000) return e end)()"#,
                r#"true | Found too many nested data structures (7999) at character 7999"#,
            ),
            (
                r#"(function() cjson.decode_max_depth(100000) local ok, e = pcall(cjson.decode, string.rep('{"a":', 9000)) cjson.decode_max_depth(1000) return e end)()"#,
                r#"true | Found too many nested data structures (4000) at character 19996"#,
            ),
            (
                r#"(function() cjson.decode_max_depth(100000) local ok, e = pcall(cjson.decode, string.rep('[{"a":', 9000)) cjson.decode_max_depth(1000) return e end)()"#,
                r#"true | Found too many nested data structures (5333) at character 15997"#,
            ),
            (
                r#"(function() cjson.decode_max_depth(100000) local ok, e = pcall(cjson.decode, string.rep('[', 3000) .. string.rep(']', 3000)) cjson.decode_max_depth(1000) return ok end)()"#,
                r#"true | true"#,
            ),
            (
                r#"(function() cjson.encode_max_depth(100000) local a = {} a.x = a local ok, e = pcall(cjson.encode, a) cjson.encode_max_depth(1000) return e end)()"#,
                r#"true | Cannot serialise, excessive nesting (4000)"#,
            ),
            (
                r#"(function() cjson.encode_max_depth(100000) local a = {} a.x = {a} local ok, e = pcall(cjson.encode, a) cjson.encode_max_depth(1000) return e end)()"#,
                r#"true | Cannot serialise, excessive nesting (5332)"#,
            ),
            (
                r#"(function() cjson.encode_max_depth(100000) local a = {} a[1] = a local ok, e = pcall(cjson.encode, a) cjson.encode_max_depth(1000) return e end)()"#,
                r#"true | Cannot serialise, excessive nesting (7998)"#,
            ),
        ],
    );
}
