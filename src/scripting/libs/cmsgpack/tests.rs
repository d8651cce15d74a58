//! Reference outputs below were taken from redis-server 7.0.15 with the
//! same expressions (see `testing::eval` for the output format).

use crate::scripting::libs::cfunction::testing::piped::{check_all, run};
use crate::scripting::libs::cfunction::testing::state;

#[test]
fn pack_matches_redis() {
    check_all(
        &state(),
        &[
            (r#"hex(cmsgpack.pack(1,2,3))"#, r#"true | 010203"#),
            (
                r#"hex(cmsgpack.pack(0, -1, -32, -33, -128, -129, -32768, -32769, -2^31, -2^31-1, -2^63))"#,
                r#"true | 00ffe0d0dfd080d1ff7fd18000d2ffff7fffd280000000d3ffffffff7fffffffd38000000000000000"#,
            ),
            (
                r#"hex(cmsgpack.pack(127,128,255,256,65535,65536,2^32-1,2^32,2^53,2^63-1024))"#,
                r#"true | 7fcc80ccffcd0100cdffffce00010000ceffffffffcf0000000100000000cf0020000000000000cf7ffffffffffffc00"#,
            ),
            (
                r#"hex(cmsgpack.pack(2^63, 2^64, -2^63-2048, 1e300))"#,
                r#"true | ca5f000000ca5f800000cbc3e0000000000001cb7e37e43c8800759c"#,
            ),
            (
                r#"hex(cmsgpack.pack(0.5, 0.1, 1/0, -1/0, 0/0, -(0/0), -0.0, 1.5, -0.5))"#,
                r#"true | ca3f000000cb3fb999999999999aca7f800000caff800000cbfff8000000000000cb7ff800000000000000ca3fc00000cabf000000"#,
            ),
            (
                r#"hex(cmsgpack.pack(3.4028234663852886e38, 3.4028235677973366e38, 1e-45, 1.401298464324817e-45, 2^-149, 2^-150))"#,
                r#"true | ca7f7fffffcb47effffff0000000cb3696d601ad376ab9ca00000001ca00000001cb3690000000000000"#,
            ),
            (
                r#"hex(cmsgpack.pack('', 'a', string.rep('a', 31), string.rep('a', 32)))"#,
                r#"true | a0a161bf61616161616161616161616161616161616161616161616161616161616161d9206161616161616161616161616161616161616161616161616161616161616161"#,
            ),
            (r#"hex(cmsgpack.pack(string.rep('a', 255))):sub(1, 8)"#, r#"true | d9ff6161"#),
            (r#"hex(cmsgpack.pack(string.rep('a', 256))):sub(1, 10)"#, r#"true | da01006161"#),
            (r#"hex(cmsgpack.pack(string.rep('a', 65535))):sub(1, 10)"#, r#"true | daffff6161"#),
            (r#"hex(cmsgpack.pack(string.rep('a', 65536))):sub(1, 14)"#, r#"true | db000100006161"#),
            (r#"#cmsgpack.pack(string.rep('a', 65536))"#, r#"true | 65541"#),
            (
                r#"hex(cmsgpack.pack({}, {1,2}, {a=1}, {1,nil,3}, {[0]=1}, {[-1]=1}))"#,
                r#"true | 9092010281a16101820101030381000181ff01"#,
            ),
            (r#"hex(cmsgpack.pack({[1.5]=1, [2^31]=2}))"#, r#"true | 82ca3fc0000001ce8000000002"#),
            (r#"hex(cmsgpack.pack({[2^31-1]=1}))"#, r#"true | 81ce7fffffff01"#),
            (r#"hex(cmsgpack.pack({[2]=1, [1]=2}))"#, r#"true | 920201"#),
            (r#"hex(cmsgpack.pack({[1]=1, [2]=2, [4]=4}))"#, r#"true | 83010102020404"#),
            (r#"hex(cmsgpack.pack({1, 2, x=3}))"#, r#"true | 8301010202a17803"#),
            (r#"hex(cmsgpack.pack({true, false, 'x', {}}))"#, r#"true | 94c3c2a17890"#),
            (
                r#"hex(cmsgpack.pack(nil, true, false, cjson.null, cmsgpack.pack, coroutine.create(function() end)))"#,
                r#"true | c0c3c2c0c0c0"#,
            ),
            (
                r#"hex(cmsgpack.pack({{{{{{{{{{{{{{{{{{1}}}}}}}}}}}}}}}}}}))"#,
                r#"true | 91919191919191919191919191919191c0"#,
            ),
            (
                r#"hex(cmsgpack.pack({{{{{{{{{{{{{{{{1}}}}}}}}}}}}}}}}))"#,
                r#"true | 9191919191919191919191919191919101"#,
            ),
            (r#"hex(cmsgpack.pack({{{{{{{{{{{{{{{1}}}}}}}}}}}}}}}))"#, r#"true | 91919191919191919191919191919101"#),
            (
                r#"hex(cmsgpack.pack({a={b={c={d={e={f={g={h={i={j={k={l={m={n={o={p={q=1}}}}}}}}}}}}}}}}}))"#,
                r#"true | 81a16181a16281a16381a16481a16581a16681a16781a16881a16981a16a81a16b81a16c81a16d81a16e81a16f81a170c0"#,
            ),
            (r#"hex(cmsgpack.pack({[{1}]={2}}))"#, r#"true | 8191019102"#),
            (
                r#"(function() local t = {} for i = 1, 16 do t[i] = i end return hex(cmsgpack.pack(t)) end)()"#,
                r#"true | dc00100102030405060708090a0b0c0d0e0f10"#,
            ),
            (
                r#"(function() local t = {} for i = 1, 16 do t['k' .. i] = i end return hex(cmsgpack.pack(t):sub(1, 3)) end)()"#,
                r#"true | de0010"#,
            ),
            (
                r#"(function() local t = {} for i = 1, 70000 do t[i] = 1 end return hex(cmsgpack.pack(t):sub(1, 6)) end)()"#,
                r#"true | dd0001117001"#,
            ),
            (
                r#"(function() local t = {} for i = 1, 70000 do t[-i] = 1 end return hex(cmsgpack.pack(t):sub(1, 6)) end)()"#,
                r#"true | df00011170d2"#,
            ),
            (r#"hex(cmsgpack.pack(-1099511627776))"#, r#"true | d3ffffff0000000000"#),
            (r#"hex(cmsgpack.pack(0.1))"#, r#"true | cb3fb999999999999a"#),
            (r#"hex(cmsgpack.pack('12', 12, '12.5'))"#, r#"true | a231320ca431322e35"#),
            (
                r#"cmsgpack.pack()"#,
                r#"false | user_script:1: bad argument #0 to 'pack' (MessagePack pack needs input.)"#,
            ),
            (
                r#"hex(cmsgpack:pack())"#,
                r#"true | 88ac5f4445534352495054494f4ed9244d6573736167655061636b204320696d706c656d656e746174696f6e20666f72204c7561a47061636bc0a55f4e414d45a8636d73677061636ba6756e7061636bc0aa5f434f50595249474854d928436f707972696768742028432920323031322c2053616c7661746f72652053616e66696c6970706fa85f56455253494f4eb26c75612d636d73677061636b20302e342e30aa756e7061636b5f6f6e65c0ac756e7061636b5f6c696d6974c0"#,
            ),
            (
                r#"hex(cmsgpack.pack(cmsgpack))"#,
                r#"true | 88ac5f4445534352495054494f4ed9244d6573736167655061636b204320696d706c656d656e746174696f6e20666f72204c7561a47061636bc0a55f4e414d45a8636d73677061636ba6756e7061636bc0aa5f434f50595249474854d928436f707972696768742028432920323031322c2053616c7661746f72652053616e66696c6970706fa85f56455253494f4eb26c75612d636d73677061636b20302e342e30aa756e7061636b5f6f6e65c0ac756e7061636b5f6c696d6974c0"#,
            ),
            (
                r#"#cmsgpack.pack(unpack((function() local t = {} for i=1,4000 do t[i]=1 end return t end)()))"#,
                r#"true | 4000"#,
            ),
            (
                r#"#cmsgpack.pack(unpack((function() local t = {} for i=1,4001 do t[i]=1 end return t end)()))"#,
                r#"false | user_script:1: bad argument #0 to 'pack' (Too many arguments for MessagePack pack.)"#,
            ),
            (
                r#"(function() local a = {x=nil,y=5} local b = {x=a} a['x'] = b return hex(cmsgpack.pack(a)) end)()"#,
                r#"true | 82a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a178c0"#,
            ),
        ],
    );
}

#[test]
fn unpack_matches_redis() {
    check_all(
        &state(),
        &[
            (r#"cmsgpack.unpack('\1\2\3')"#, r#"true | 1 | 2 | 3"#),
            (r#"select('#', cmsgpack.unpack(''))"#, r#"true | 0"#),
            (r#"cmsgpack.unpack('\205\1')"#, r#"false | user_script:1: Missing bytes in input."#),
            (r#"cmsgpack.unpack('\193')"#, r#"false | user_script:1: Bad data format in input."#),
            (r#"cmsgpack.unpack('\196\1a')"#, r#"false | user_script:1: Bad data format in input."#),
            (r#"cmsgpack.unpack('\199\1\1a')"#, r#"false | user_script:1: Bad data format in input."#),
            (r#"cmsgpack.unpack('\212\1\1')"#, r#"false | user_script:1: Bad data format in input."#),
            (r#"cmsgpack.unpack('\1\193')"#, r#"false | user_script:1: Bad data format in input."#),
            (
                r#"cmsgpack.unpack()"#,
                r#"false | user_script:1: bad argument #1 to 'unpack' (string expected, got no value)"#,
            ),
            (r#"cmsgpack.unpack(12)"#, r#"true | 49 | 50"#),
            (
                r#"cmsgpack.unpack({})"#,
                r#"false | user_script:1: bad argument #1 to 'unpack' (string expected, got table)"#,
            ),
            (
                r#"cmsgpack.unpack(nil)"#,
                r#"false | user_script:1: bad argument #1 to 'unpack' (string expected, got nil)"#,
            ),
            (
                r#"cmsgpack:unpack()"#,
                r#"false | user_script:1: calling 'unpack' on bad self (string expected, got table)"#,
            ),
            (r#"cmsgpack.unpack('\1', 'ignored')"#, r#"true | 1"#),
            (r#"cmsgpack.unpack('\127\204\255\205\1\0\206\0\1\0\0')"#, r#"true | 127 | 255 | 256 | 65536"#),
            (
                r#"cmsgpack.unpack('\224\255\208\128\209\128\0\210\128\0\0\0')"#,
                r#"true | -32 | -1 | -128 | -32768 | -2147483648"#,
            ),
            (r#"cmsgpack.unpack('\207\255\255\255\255\255\255\255\255')"#, r#"true | -1"#),
            (r#"cmsgpack.unpack('\207\128\0\0\0\0\0\0\1')"#, r#"true | -9.2233720368548e+18"#),
            (r#"cmsgpack.unpack('\207\0\0\0\1\0\0\0\0')"#, r#"true | 4294967296"#),
            (r#"cmsgpack.unpack('\211\128\0\0\0\0\0\0\1')"#, r#"true | -9.2233720368548e+18"#),
            (r#"cmsgpack.unpack('\211\255\255\255\255\255\255\255\254')"#, r#"true | -2"#),
            (r#"cmsgpack.unpack('\209\255\1')"#, r#"true | -255"#),
            (r#"cmsgpack.unpack('\210\255\255\255\1')"#, r#"true | -255"#),
            (r#"cmsgpack.unpack('\206\255\255\255\255')"#, r#"true | 4294967295"#),
            (r#"cmsgpack.unpack('\202\63\192\0\0')"#, r#"true | 1.5"#),
            (r#"cmsgpack.unpack('\202\127\128\0\0')"#, r#"true | inf"#),
            (r#"cmsgpack.unpack('\203\63\185\153\153\153\153\153\154')"#, r#"true | 0.1"#),
            (r#"cmsgpack.unpack('\203\255\248\0\0\0\0\0\0')"#, r#"true | -nan"#),
            (r#"cmsgpack.unpack('\192\194\195')"#, r#"true | nil | false | true"#),
            (r#"select('#', cmsgpack.unpack('\192\192'))"#, r#"true | 2"#),
            (r#"cmsgpack.unpack('\161a\217\2bc\218\0\3def\219\0\0\0\1g')"#, r#"true | a | bc | def | g"#),
            (r#"cmsgpack.unpack('\219\0\0\0\2ab')"#, r#"true | ab"#),
            (r#"cmsgpack.unpack('\219\0\0\0\3ab')"#, r#"false | user_script:1: Missing bytes in input."#),
            (r#"cmsgpack.unpack('\219\0\0')"#, r#"false | user_script:1: Missing bytes in input."#),
            (r#"cmsgpack.unpack('\217\3ab')"#, r#"false | user_script:1: Missing bytes in input."#),
            (r#"cmsgpack.unpack('\217')"#, r#"false | user_script:1: Missing bytes in input."#),
            (r#"cmsgpack.unpack('\218\0')"#, r#"false | user_script:1: Missing bytes in input."#),
            (r#"cmsgpack.unpack('\162a')"#, r#"false | user_script:1: Missing bytes in input."#),
            (r#"cmsgpack.unpack('\129\192\1')"#, r#"false | table index is nil"#),
            (r#"cmsgpack.unpack('\129\203\255\248\0\0\0\0\0\0\1')"#, r#"false | table index is NaN"#),
            (r#"type(cmsgpack.unpack('\129\1\192'))"#, r#"true | table"#),
            (r#"next(cmsgpack.unpack('\129\1\192'))"#, r#"true"#),
            (r#"cmsgpack.unpack('\147\1\192\3')[3]"#, r#"true | 3"#),
            (r#"table.maxn(cmsgpack.unpack('\147\1\192\3'))"#, r#"true | 3"#),
            (r#"cmsgpack.unpack('\147\1\2\3')[2]"#, r#"true | 2"#),
            (r#"cmsgpack.unpack('\145')"#, r#"false | user_script:1: Missing bytes in input."#),
            (r#"cmsgpack.unpack('\145\145')"#, r#"false | user_script:1: Missing bytes in input."#),
            (r#"cmsgpack.unpack('\129\1')"#, r#"false | user_script:1: Missing bytes in input."#),
            (r#"cmsgpack.unpack('\220\0')"#, r#"false | user_script:1: Missing bytes in input."#),
            (r#"cmsgpack.unpack('\220\0\1\7')[1]"#, r#"true | 7"#),
            (r#"cmsgpack.unpack('\221\0\0\0\1\7')[1]"#, r#"true | 7"#),
            (r#"cmsgpack.unpack('\222\0\1\1\7')[1]"#, r#"true | 7"#),
            (r#"cmsgpack.unpack('\223\0\0\0\1\1\7')[1]"#, r#"true | 7"#),
            (r#"cmsgpack.unpack('\221\255\255\255\255\1')"#, r#"false | user_script:1: Missing bytes in input."#),
            (r#"cmsgpack.unpack('\144')[1]"#, r#"true"#),
            (r#"next(cmsgpack.unpack('\128'))"#, r#"true"#),
            (r#"cmsgpack.unpack('\130\161a\1\161b\145\2').b[1]"#, r#"true | 2"#),
            (r#"cmsgpack.unpack('\129\145\1\2')[1]"#, r#"true"#),
            (r#"cmsgpack.unpack_one('\1\2\3')"#, r#"true | 1 | 1"#),
            (r#"cmsgpack.unpack_one('\1\2\3', 2)"#, r#"true | -1 | 3"#),
            (r#"cmsgpack.unpack_one('\1\2\3', 3)"#, r#"true | -1"#),
            (
                r#"cmsgpack.unpack_one('\1\2\3', 4)"#,
                r#"false | user_script:1: Start offset 4 greater than input length 3."#,
            ),
            (
                r#"cmsgpack.unpack_one('\1\2\3', -1)"#,
                r#"false | user_script:1: Invalid request to unpack with offset of -1 and limit of 3."#,
            ),
            (
                r#"cmsgpack.unpack_one(nil, 'x')"#,
                r#"false | user_script:1: bad argument #2 to 'unpack_one' (number expected, got string)"#,
            ),
            (
                r#"cmsgpack.unpack_one(nil)"#,
                r#"false | user_script:1: bad argument #1 to 'unpack_one' (string expected, got nil)"#,
            ),
            (
                r#"cmsgpack.unpack_one('\1\2', 2^32+1)"#,
                r#"false | user_script:1: Start offset 1 greater than input length 2."#,
            ),
            (r#"cmsgpack.unpack_one('\1\2', '1')"#, r#"true | -1 | 2"#),
            (r#"cmsgpack.unpack_one('\1\2', 1.9)"#, r#"true | -1 | 2"#),
            (r#"cmsgpack.unpack_one('', 0)"#, r#"true | -1"#),
            (r#"cmsgpack.unpack_one('')"#, r#"true | -1"#),
            (r#"cmsgpack.unpack_one('\205\1')"#, r#"false | user_script:1: Missing bytes in input."#),
            (r#"cmsgpack.unpack_one('\1\193')"#, r#"true | 1 | 1"#),
            (r#"cmsgpack.unpack_one('\1', 1, 'x')"#, r#"true | -1"#),
            (r#"cmsgpack.unpack_limit('\1\2\3', 2)"#, r#"true | 2 | 1 | 2"#),
            (r#"cmsgpack.unpack_limit('\1\2\3', 0)"#, r#"true | 1 | 2 | 3"#),
            (r#"cmsgpack.unpack_limit('\1\2\3', 0, 1)"#, r#"true | 1"#),
            (
                r#"cmsgpack.unpack_limit('\1\2\3', -1)"#,
                r#"false | user_script:1: Invalid request to unpack with offset of 0 and limit of 3."#,
            ),
            (
                r#"cmsgpack.unpack_limit('\1\2\3', -1, 2)"#,
                r#"false | user_script:1: Invalid request to unpack with offset of 2 and limit of 3."#,
            ),
            (
                r#"cmsgpack.unpack_limit('\1\2\3', 1, -2^32-1)"#,
                r#"false | user_script:1: Invalid request to unpack with offset of -1 and limit of 3."#,
            ),
            (
                r#"cmsgpack.unpack_limit('\1\2\3')"#,
                r#"false | user_script:1: bad argument #2 to 'unpack_limit' (number expected, got no value)"#,
            ),
            (
                r#"cmsgpack.unpack_limit('\1\2\3', 'x')"#,
                r#"false | user_script:1: bad argument #2 to 'unpack_limit' (number expected, got string)"#,
            ),
            (r#"cmsgpack.unpack_limit('\1\2\3', 5, 1)"#, r#"true | -1 | 2 | 3"#),
            (r#"cmsgpack.unpack_limit('\1\2\3', 1.7, 1.2)"#, r#"true | 2 | 2"#),
            (r#"cmsgpack.unpack_limit('\1\2\3', 2^40)"#, r#"true | -1 | 1 | 2 | 3"#),
            (
                r#"cmsgpack.unpack_limit({}, 1)"#,
                r#"false | user_script:1: bad argument #1 to 'unpack_limit' (string expected, got table)"#,
            ),
            (r#"cmsgpack._NAME"#, r#"true | cmsgpack"#),
            (r#"cmsgpack._VERSION"#, r#"true | lua-cmsgpack 0.4.0"#),
            (r#"cmsgpack._COPYRIGHT"#, r#"true | Copyright (C) 2012, Salvatore Sanfilippo"#),
            (r#"cmsgpack._DESCRIPTION"#, r#"true | MessagePack C implementation for Lua"#),
            (r#"#{cmsgpack.unpack(string.rep('\1', 7999))}"#, r#"true | 7999"#),
            (
                r#"#{cmsgpack.unpack(string.rep('\1', 8000))}"#,
                r#"false | user_script:1: stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)"#,
            ),
            (r#"#{cmsgpack.unpack(string.rep('\1', 7998), 1)}"#, r#"true | 7998"#),
            (
                r#"#{cmsgpack.unpack(string.rep('\1', 7999), 1)}"#,
                r#"false | user_script:1: stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)"#,
            ),
            (r#"select('#', cmsgpack.unpack_limit(string.rep('\1', 7998), 7998))"#, r#"true | 7999"#),
            (
                r#"select('#', cmsgpack.unpack_limit(string.rep('\1', 7999), 7999))"#,
                r#"false | user_script:1: stack overflow (in function mp_unpack_full)"#,
            ),
            (r#"select('#', cmsgpack.unpack_limit(string.rep('\1', 7998), 8000, 1))"#, r#"true | 7998"#),
            (
                r#"select('#', cmsgpack.unpack_limit(string.rep('\1', 8000), 0))"#,
                r#"false | user_script:1: stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)"#,
            ),
            (
                r#"(function() local t = {cmsgpack.unpack(string.rep('\1\2', 3999) .. '\3')} return t[1] + t[7998] + t[7999] end)()"#,
                r#"true | 6"#,
            ),
            (r#"#cmsgpack.unpack(string.rep('\145', 3999) .. '\1')"#, r#"true | 1"#),
            (
                r#"#cmsgpack.unpack(string.rep('\145', 4000) .. '\1')"#,
                r#"false | user_script:1: stack overflow (in function mp_decode_to_lua_array)"#,
            ),
            (r#"#cmsgpack.unpack(string.rep('\129\1', 3999) .. '\1')"#, r#"true | 1"#),
            (
                r#"#cmsgpack.unpack(string.rep('\129\1', 4000) .. '\1')"#,
                r#"false | user_script:1: stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)"#,
            ),
            (
                r#"#cmsgpack.unpack(string.rep('\129', 3998) .. '\1\1')"#,
                r#"false | user_script:1: Missing bytes in input."#,
            ),
            (r#"#cmsgpack.unpack(string.rep('\144', 7998))"#, r#"true | 0"#),
            (
                r#"#{cmsgpack.unpack(string.rep('\144', 7999))}"#,
                r#"false | user_script:1: stack overflow (in function mp_decode_to_lua_array)"#,
            ),
            (
                r#"#{cmsgpack.unpack(string.rep('\144', 7998) .. '\145\1')}"#,
                r#"false | user_script:1: stack overflow (in function mp_decode_to_lua_array)"#,
            ),
            (
                r#"#{cmsgpack.unpack(string.rep('\1', 7997) .. '\145\1')}"#,
                r#"false | user_script:1: stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)"#,
            ),
            (
                r#"#{cmsgpack.unpack(string.rep('\1', 7998) .. '\145\1')}"#,
                r#"false | user_script:1: stack overflow (in function mp_decode_to_lua_array)"#,
            ),
            (
                r#"#{cmsgpack.unpack(string.rep('\1', 7997) .. '\129\1\1')}"#,
                r#"false | user_script:1: stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)"#,
            ),
            (
                r#"#{cmsgpack.unpack(string.rep('\1', 7998) .. '\129\1\1')}"#,
                r#"false | user_script:1: stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)"#,
            ),
            (
                r#"(function() local a = {x=nil,y=5} local b = {x=a} a['x'] = b local re = cmsgpack.unpack(cmsgpack.pack(a)) return re.x.x.x.x.x.x.x.x.x.x.x.x.x.x.y, re.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x == nil end)()"#,
                r#"true | 5 | true"#,
            ),
            (
                r#"(function() local s = cmsgpack.pack({1, {2, 'x'}, {a = {b = true}}}, 'y', 3.5) local t, y, z = cmsgpack.unpack(s) return t[2][2], t[3].a.b, y, z end)()"#,
                r#"true | x | true | y | 3.5"#,
            ),
            (
                r#"(function() local s = cmsgpack.pack(1, 2, 3) local o, a = cmsgpack.unpack_one(s) local o2, b = cmsgpack.unpack_one(s, o) local o3, c = cmsgpack.unpack_one(s, o2) return o, a, o2, b, o3, c end)()"#,
                r#"true | 1 | 1 | 2 | 2 | -1 | 3"#,
            ),
        ],
    );
}

/// Errors are raised as strings, like a C function's `luaL_error`, and
/// Lua's own errors inside the C function without a position.
#[test]
fn errors_are_strings() {
    let lua = state();
    let got = run(&lua, "local ok, e = pcall(cmsgpack.unpack, '\\205') return type(e) .. ':' .. e");
    assert_eq!(got, "string:Missing bytes in input.");
    let got = run(&lua, "local ok, e = pcall(function() return cmsgpack.unpack('\\129\\192\\1') end) return e");
    assert_eq!(got, "table index is nil");
    let got = run(&lua, "local ok, e = pcall(cmsgpack.pack) return e");
    assert_eq!(got, "bad argument #0 to '?' (MessagePack pack needs input.)");
}

/// Redis's own cmsgpack tests (tests/unit/scripting.tcl).
#[test]
fn redis_smoke_test() {
    let script = r#"
        local str_lt_32 = string.rep("x", 30)
        local str_lt_255 = string.rep("x", 250)
        local str_lt_65535 = string.rep("x", 65530)
        local str_long = string.rep("x", 100000)
        local array_lt_15 = {1, 2, 3, 4, 5}
        local array_lt_65535 = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18}
        local array_big = {}
        for i=1, 100000 do array_big[i] = i end
        local map_lt_15 = {a=1, b=2}
        local map_big = {}
        for i=1, 100000 do map_big[tostring(i)] = i end
        local some_map = {
            s1=str_lt_32, s2=str_lt_255, s3=str_lt_65535, s4=str_long, d1=0.1, i1=1, i2=250, i3=65530, i4=100000,
            i5=2^40, i6=-1, i7=-120, i8=-32000, i9=-100000, i10=-3147483648, a1=array_lt_15, a2=array_lt_65535,
            a3=array_big, m1=map_lt_15, m2=map_big, b1=false, b2=true, n=nil
        }
        local encoded = cmsgpack.pack(some_map)
        local decoded = cmsgpack.unpack(encoded)
        assert(table.concat(some_map) == table.concat(decoded))
        local offset, decoded_one = cmsgpack.unpack_one(encoded, 0)
        assert(table.concat(some_map) == table.concat(decoded_one))
        assert(offset == -1)
        assert(decoded.m2["77777"] == 77777 and decoded.a3[99999] == 99999 and decoded.i10 == -3147483648)

        local encoded_multiple = cmsgpack.pack(str_lt_32, str_lt_255, str_lt_65535, str_long)
        local offset, obj = cmsgpack.unpack_limit(encoded_multiple, 1, 0)
        assert(obj == str_lt_32)
        offset, obj = cmsgpack.unpack_limit(encoded_multiple, 1, offset)
        assert(obj == str_lt_255)
        offset, obj = cmsgpack.unpack_limit(encoded_multiple, 1, offset)
        assert(obj == str_lt_65535)
        offset, obj = cmsgpack.unpack_limit(encoded_multiple, 1, offset)
        assert(obj == str_long)
        assert(offset == -1)

        local a = {x=nil,y=5}
        local b = {x=a}
        a['x'] = b
        local re = cmsgpack.unpack(cmsgpack.pack(a))
        assert(re.x.x.y == re.y)
        assert(re.x.x.x.x.x.x.x.x.x.x.x.x.x.x.y == re.y)
        assert(re.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x)
        assert(re.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x == nil)
        return "ok"
    "#;
    assert_eq!(run(&state(), script), "ok");
}

/// Random nested values come back equal from pack and unpack.
#[test]
fn random_round_trips() {
    let script = r#"
        local seed = 12345
        local function rand(n) seed = (seed * 1103515245 + 12345) % 2147483648 return seed % n end
        local function value(depth)
            local kind = rand(depth > 3 and 5 or 7)
            if kind == 0 then return rand(2) == 1
            elseif kind == 1 then return (rand(2^31) - 2^30) * 2^(rand(40) - 8)
            elseif kind == 2 then return rand(2^31) * 2^rand(33) - 2^40
            elseif kind == 3 then return string.rep(string.char(rand(256)), rand(40))
            elseif kind == 4 then return rand(2^31) / (rand(1000) + 1)
            elseif kind == 5 then
                local t = {} for i = 1, rand(20) do t[i] = value(depth + 1) end return t
            else
                local t = {} for i = 1, rand(10) do t['k' .. rand(100)] = value(depth + 1) end return t
            end
        end
        local function same(a, b)
            if type(a) ~= 'table' or type(b) ~= 'table' then return a == b end
            for k, v in pairs(a) do if not same(v, b[k]) then return false end end
            for k in pairs(b) do if a[k] == nil then return false end end
            return true
        end
        for i = 1, 300 do
            local v = value(0)
            local back, n = cmsgpack.unpack(cmsgpack.pack(v, i))
            if n ~= i or not same(v, back) then return "mismatch at " .. i end
        end
        return "ok"
    "#;
    assert_eq!(run(&state(), script), "ok");
}

/// Deep nesting keeps every level in its place (the table stack spills
/// levels into a Lua table past a few dozen).
#[test]
fn deep_nesting_keeps_levels_in_order() {
    let script = r#"
        local n = 1500
        local parts = {}
        for i = 1, n do parts[#parts + 1] = '\146\205' .. string.char(math.floor(i / 256), i % 256) .. '\129\161k' end
        parts[#parts + 1] = '\192'
        local t = cmsgpack.unpack(table.concat(parts))
        for i = 1, n do
            if t[1] ~= i then return 'bad level ' .. i end
            t = t[2] and t[2].k
        end
        if t ~= nil then return 'bad innermost' end
        return 'ok'
    "#;
    assert_eq!(run(&state(), script), "ok");
}
