//! Outputs checked against redis-server 7.0.15 (`EVAL` of the same
//! expressions, formatted by the same `show` prelude).

use crate::scripting::libs::cfunction::testing::shown::check_all;
use crate::scripting::libs::cfunction::testing::state_with;
use mlua::Lua;

mod more;

fn state() -> Lua {
    state_with("struct", super::open)
}

#[test]
fn pack_values() {
    check_all(
        &state(),
        &[
            (r#"struct.pack('>I2', 513)"#, r#"x0201"#),
            (r#"struct.unpack('>I2', struct.pack('>I2', 513))"#, r#"513,3"#),
            (r#"struct.pack('b', 1)"#, r#"x01"#),
            (r#"struct.pack('b', -1)"#, r#"xff"#),
            (r#"struct.pack('b', 255)"#, r#"xff"#),
            (r#"struct.pack('b', 256)"#, r#"x00"#),
            (r#"struct.pack('B', -2)"#, r#"xfe"#),
            (r#"struct.pack('<h', 0x1234)"#, r#"x3412"#),
            (r#"struct.pack('>h', 0x1234)"#, r#"x1234"#),
            (r#"struct.pack('h', -2)"#, r#"xfeff"#),
            (r#"struct.pack('H', 70000)"#, r#"x7011"#),
            (r#"struct.pack('<l', 1)"#, r#"x0100000000000000"#),
            (r#"struct.pack('>L', 1)"#, r#"x0000000000000001"#),
            (r#"struct.pack('T', 258)"#, r#"x0201000000000000"#),
            (r#"struct.pack('i', -3)"#, r#"xfdffffff"#),
            (r#"struct.pack('I', 2^32 + 5)"#, r#"x05000000"#),
            (r#"struct.pack('>i3', -2)"#, r#"xfffffe"#),
            (r#"struct.pack('<i16', -1)"#, r#"xffffffffffffffff0000000000000000"#),
            (r#"struct.pack('>I16', 2^62)"#, r#"x00000000000000004000000000000000"#),
            (r#"struct.pack('>I32', 1)"#, r#"x0000000000000000000000000000000000000000000000000000000000000001"#),
            (r#"struct.pack('i0', 1)"#, r#""""#),
            (r#"struct.pack('>I8', 2^63)"#, r#"x8000000000000000"#),
            (r#"struct.pack('>I8', 2^64)"#, r#"x0000000000000000"#),
            (r#"struct.pack('>I8', 2^64 + 2^12)"#, r#"x0000000000000000"#),
            (r#"struct.pack('>I8', 1e300)"#, r#"x0000000000000000"#),
            (r#"struct.pack('>i8', -2^63)"#, r#"x8000000000000000"#),
            (r#"struct.pack('>i8', -2^63 - 2^11)"#, r#"x8000000000000000"#),
            (r#"struct.pack('>i8', -1e300)"#, r#"x8000000000000000"#),
            (r#"struct.pack('>I8', 0/0)"#, r#"x8000000000000000"#),
            (r#"struct.pack('>I8', -(0/0))"#, r#"x8000000000000000"#),
            (r#"struct.pack('>I8', 1/0)"#, r#"x0000000000000000"#),
            (r#"struct.pack('>I8', -1/0)"#, r#"x8000000000000000"#),
            (r#"struct.pack('>i4', 1.9)"#, r#"x00000001"#),
            (r#"struct.pack('>i4', -1.9)"#, r#"xffffffff"#),
            (r#"struct.pack('>i4', -0.5)"#, r#"x00000000"#),
            (r#"struct.pack('>i4', 2^63 + 2^40)"#, r#"x00000000"#),
            (r#"struct.pack('>I8', 2^63 + 2^40)"#, r#"x8000010000000000"#),
            (r#"struct.pack('>I8', 1.8446744073709550e19)"#, r#"xfffffffffffff800"#),
            (r#"struct.pack('<f', 1.5)"#, r#"x0000c03f"#),
            (r#"struct.pack('>f', 1.5)"#, r#"x3fc00000"#),
            (r#"struct.pack('>f', 1e40)"#, r#"x7f800000"#),
            (r#"struct.pack('>f', -0.0)"#, r#"x80000000"#),
            (r#"struct.pack('>f', 1/3)"#, r#"x3eaaaaab"#),
            (r#"struct.pack('>d', 1/3)"#, r#"x3fd5555555555555"#),
            (r#"struct.pack('<d', -0.0)"#, r#"x0000000000000080"#),
            (r#"struct.pack('>d', 0/0)"#, r#"xfff8000000000000"#),
            (r#"struct.pack('d', '2.5')"#, r#"x0000000000000440"#),
            (r#"struct.pack('c3', 'abcdef')"#, r#""abc""#),
            (r#"struct.pack('c0', 'abcdef')"#, r#""abcdef""#),
            (r#"struct.pack('c', 'xyz')"#, r#""x""#),
            (r#"struct.pack('s', 'a\0b')"#, r#"x61006200"#),
            (r#"struct.pack('c', 12)"#, r#""1""#),
            (r#"struct.pack('s', 1.5)"#, r#"x312e3500"#),
            (r#"struct.pack('b', '0x10')"#, r#"x10"#),
            (r#"struct.pack('x')"#, r#"x00"#),
            (r#"struct.pack('xxbxx', 7)"#, r#"x0000070000"#),
            (r#"struct.pack('!4 b i', 1, 2)"#, r#"x0100000002000000"#),
            (r#"struct.pack('!bi', 1, 2)"#, r#"x0100000002000000"#),
            (r#"struct.pack('!8 b d', 1, 2)"#, r#"x01000000000000000000000000000040"#),
            (r#"struct.pack('!2 b d', 1, 2)"#, r#"x01000000000000000040"#),
            (r#"struct.pack('!16 b d', 1, 2)"#, r#"x01000000000000000000000000000040"#),
            (r#"struct.pack('!4 b c3 i', 1, 'abc', 2)"#, r#"x0161626302000000"#),
            (r#"struct.pack('!4 b s i', 1, 'ab', 2)"#, r#"x0161620002000000"#),
            (r#"struct.pack('!8 b i3', 1, 2)"#, r#"x010000020000"#),
            (r#"struct.pack('!8 b i5', 1, 2)"#, r#"x01000000000200000000"#),
            (r#"struct.pack('!8 bb i5', 1, 2, 3)"#, r#"x0102000000000300000000"#),
            (r#"struct.pack('!8 bbb i6', 1, 2, 3, 4)"#, r#"x0102030000000000040000000000"#),
            (
                r#"struct.pack('!8 bbb i7 b i12', 1, 2, 3, 4, 5, 6)"#,
                r#"x01020300000000040000000000000500060000000000000000000000"#,
            ),
            (r#"struct.pack('!4 b x h', 1, 2)"#, r#"x01000200"#),
            (r#"struct.pack('!4 b f', 1, 2)"#, r#"x0100000000000040"#),
            (r#"struct.pack('!b!4h', 1, 2)"#, r#"x01000200"#),
            (r#"struct.pack('<!4 b >h', 1, 2)"#, r#"x01000002"#),
            (r#"struct.pack('b\0z', 1)"#, r#"x01"#),
            (r#"struct.pack('')"#, r#""""#),
            (r#"struct.pack(' ')"#, r#""""#),
            (r#"struct.pack('!1073741824 b i', 1, 2)"#, r#"x0100000002000000"#),
            (r#"struct.pack('!', 1)"#, r#""""#),
            (r#"struct.pack('b', 1, 2, 3)"#, r#"x01"#),
            (r#"struct.pack('>', 1)"#, r#""""#),
            (r#"struct.pack('B', 128.5)"#, r#"x80"#),
            (r#"struct.pack('>I2', '0x102')"#, r#"x0102"#),
            (r#"struct.pack('b', 1e10)"#, r#"x00"#),
            (r#"struct.pack('b', -1e10)"#, r#"x00"#),
        ],
    );
}

#[test]
fn pack_errors() {
    check_all(
        &state(),
        &[
            (r#"struct.pack('i33', 1)"#, r#"ERR:string:user_script:1: integral size 33 is larger than limit of 32"#),
            (r#"struct.pack('c5', 'ab')"#, r#"ERR:string:user_script:1: bad argument #3 to 'pack' (string too short)"#),
            (
                r#"struct.pack('bc5', 1, 'ab')"#,
                r#"ERR:string:user_script:1: bad argument #4 to 'pack' (string too short)"#,
            ),
            (
                r#"struct.pack('s3', 'abcdef')"#,
                r#"ERR:string:user_script:1: bad argument #1 to 'pack' (invalid format option '3')"#,
            ),
            (
                r#"struct.pack('s', {})"#,
                r#"ERR:string:user_script:1: bad argument #2 to 'pack' (string expected, got table)"#,
            ),
            (
                r#"struct.pack('c2', nil)"#,
                r#"ERR:string:user_script:1: bad argument #2 to 'pack' (string expected, got nil)"#,
            ),
            (
                r#"struct.pack('b', 'x')"#,
                r#"ERR:string:user_script:1: bad argument #2 to 'pack' (number expected, got string)"#,
            ),
            (
                r#"struct.pack('b')"#,
                r#"ERR:string:user_script:1: bad argument #2 to 'pack' (number expected, got nil)"#,
            ),
            (
                r#"struct.pack('bbb', 1, 2)"#,
                r#"ERR:string:user_script:1: bad argument #4 to 'pack' (number expected, got nil)"#,
            ),
            (r#"struct.pack('!3 b i', 1, 2)"#, r#"ERR:string:user_script:1: alignment 3 is not a power of 2"#),
            (r#"struct.pack('!0 b i', 1, 2)"#, r#"ERR:string:user_script:1: alignment 0 is not a power of 2"#),
            (
                r#"struct.pack('z')"#,
                r#"ERR:string:user_script:1: bad argument #1 to 'pack' (invalid format option 'z')"#,
            ),
            (
                r#"struct.pack('b z', 1)"#,
                r#"ERR:string:user_script:1: bad argument #1 to 'pack' (invalid format option 'z')"#,
            ),
            (
                r#"struct.pack()"#,
                r#"ERR:string:user_script:1: bad argument #1 to 'pack' (string expected, got no value)"#,
            ),
            (
                r#"struct.pack(nil)"#,
                r#"ERR:string:user_script:1: bad argument #1 to 'pack' (string expected, got nil)"#,
            ),
            (
                r#"struct.pack({})"#,
                r#"ERR:string:user_script:1: bad argument #1 to 'pack' (string expected, got table)"#,
            ),
            (r#"struct.pack(5)"#, r#"ERR:string:user_script:1: bad argument #1 to 'pack' (invalid format option '5')"#),
            (r#"struct.pack('i99999999999', 1)"#, r#"ERR:string:user_script:1: integral size overflow"#),
            (
                r#"struct.pack('i2147483647', 1)"#,
                r#"ERR:string:user_script:1: integral size 2147483647 is larger than limit of 32"#,
            ),
            (r#"struct.pack('i2147483648', 1)"#, r#"ERR:string:user_script:1: integral size overflow"#),
            (r#"struct.pack('!2147483648', 1)"#, r#"ERR:string:user_script:1: integral size overflow"#),
            (
                r#"struct.pack('c2147483647', 'a')"#,
                r#"ERR:string:user_script:1: bad argument #3 to 'pack' (string too short)"#,
            ),
            (r#"struct.pack('c2147483648', 'a')"#, r#"ERR:string:user_script:1: integral size overflow"#),
            (r#"struct.pack('c99999999999', 'a')"#, r#"ERR:string:user_script:1: integral size overflow"#),
            (r#"struct.pack('!5')"#, r#"ERR:string:user_script:1: alignment 5 is not a power of 2"#),
            (r#"struct.pack('!6')"#, r#"ERR:string:user_script:1: alignment 6 is not a power of 2"#),
            (
                r#"struct.pack('=')"#,
                r#"ERR:string:user_script:1: bad argument #1 to 'pack' (invalid format option '=')"#,
            ),
            (
                r#"struct.pack('>I2', true)"#,
                r#"ERR:string:user_script:1: bad argument #2 to 'pack' (number expected, got boolean)"#,
            ),
            (
                r#"struct.pack('bd', 1, {})"#,
                r#"ERR:string:user_script:1: bad argument #3 to 'pack' (number expected, got table)"#,
            ),
        ],
    );
}

#[test]
fn unpack_values() {
    check_all(
        &state(),
        &[
            (r#"struct.unpack('b', '\255')"#, r#"-1,2"#),
            (r#"struct.unpack('B', '\255')"#, r#"255,2"#),
            (r#"struct.unpack('<h', '\1\128')"#, r#"-32767,3"#),
            (r#"struct.unpack('>H', '\1\128')"#, r#"384,3"#),
            (r#"struct.unpack('<l', '\255\255\255\255\255\255\255\255')"#, r#"-1,9"#),
            (r#"struct.unpack('<L', '\255\255\255\255\255\255\255\255')"#, r#"1.8446744073709552e+19,9"#),
            (r#"struct.unpack('<L', '\0\0\0\0\0\0\0\128')"#, r#"9.2233720368547758e+18,9"#),
            (r#"struct.unpack('<T', '\1\0\0\0\0\0\0\0')"#, r#"1,9"#),
            (r#"struct.unpack('>i3', '\255\255\254')"#, r#"-2,4"#),
            (r#"struct.unpack('>I3', '\255\255\254')"#, r#"16777214,4"#),
            (r#"struct.unpack('>i0', '')"#, r#"0,1"#),
            (r#"struct.unpack('>I0', 'abc')"#, r#"0,1"#),
            (r#"struct.unpack('>i9', '\0\0\0\0\0\0\0\0\128')"#, r#"-128,10"#),
            (r#"struct.unpack('>i9', '\0\0\0\0\0\0\0\0\127')"#, r#"127,10"#),
            (r#"struct.unpack('>i9', '\0\0\0\0\0\0\0\1\0')"#, r#"-128,10"#),
            (r#"struct.unpack('<i16', '\255\255\255\255\255\255\255\255\0\0\0\0\0\0\0\0')"#, r#"-1,17"#),
            (r#"struct.unpack('>i16', '\255\255\255\255\255\255\255\255\0\0\0\0\0\0\0\0')"#, r#"0,17"#),
            (r#"struct.unpack('>i16', '\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1')"#, r#"1,17"#),
            (r#"struct.unpack('>I16', '\1\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1')"#, r#"1,17"#),
            (r#"struct.unpack('>i12', '\0\0\0\0\0\0\0\0\0\0\0\16')"#, r#"16,13"#),
            (r#"struct.unpack('>i12', '\0\0\0\0\0\0\0\0\0\0\0\8')"#, r#"8,13"#),
            (r#"struct.unpack('>i32', string.rep('\255', 32))"#, r#"-1,33"#),
            (r#"struct.unpack('>i24', string.rep('\0', 23) .. '\128')"#, r#"128,25"#),
            (r#"struct.unpack('>I8', '\255\255\255\255\255\255\255\255')"#, r#"1.8446744073709552e+19,9"#),
            (r#"struct.unpack('>i8', '\128\0\0\0\0\0\0\0')"#, r#"-9.2233720368547758e+18,9"#),
            (r#"struct.unpack('<f', '\0\0\192\63')"#, r#"1.5,5"#),
            (r#"struct.unpack('>f', '\63\192\0\0')"#, r#"1.5,5"#),
            (r#"struct.unpack('>d', '\63\213\85\85\85\85\85\85')"#, r#"0.33333333333333331,9"#),
            (r#"struct.unpack('<d', '\0\0\0\0\0\0\0\128')"#, r#"-0,9"#),
            (r#"struct.unpack('>f', '\127\192\0\1')"#, r#"nan,5"#),
            (r#"struct.unpack('c3', 'abcdef')"#, r#""abc",4"#),
            (r#"struct.unpack('c', 'abcdef')"#, r#""a",2"#),
            (r#"struct.unpack('b c0', '\3abcdef')"#, r#""abc",5"#),
            (r#"struct.unpack('c1 c0', '3abcdef')"#, r#""abc",5"#),
            (r#"struct.unpack('d c0', '\0\0\0\0\0\0\0\64abc')"#, r#""ab",11"#),
            (r#"struct.unpack('d c0', '\0\0\0\0\0\0\240\127abc')"#, r#""",9"#),
            (r#"struct.unpack('d c0', '\0\0\0\0\0\0\224\63abc')"#, r#""",9"#),
            (r#"struct.unpack('d c0', '\0\0\0\0\0\0\248\63abc')"#, r#""a",10"#),
            (r#"struct.unpack('b x c0', '\2\0abc')"#, r#""ab",5"#),
            (r#"struct.unpack('s', 'abc\0def')"#, r#""abc",5"#),
            (r#"struct.unpack('s s', 'abc\0\0def')"#, r#""abc","",6"#),
            (r#"struct.unpack('x', 'a')"#, r#"2"#),
            (r#"struct.unpack('', '')"#, r#"1"#),
            (r#"struct.unpack('', 'abc')"#, r#"1"#),
            (r#"struct.unpack('b', 'abc', 2)"#, r#"98,3"#),
            (r#"struct.unpack('b', 'abc', 3)"#, r#"99,4"#),
            (r#"struct.unpack('', 'abc', 4)"#, r#"4"#),
            (r#"struct.unpack('', 'abc', 5)"#, r#"5"#),
            (r#"struct.unpack('', 'abc', 100)"#, r#"100"#),
            (r#"struct.unpack('', 'abc', -1)"#, r#"-1"#),
            (r#"struct.unpack('', 'abc', -5)"#, r#"-5"#),
            (r#"struct.unpack('b', 'abc', 2.7)"#, r#"98,3"#),
            (r#"struct.unpack('b', 'abc', '2')"#, r#"98,3"#),
            (r#"struct.unpack('b', 'abc', nil)"#, r#"97,2"#),
            (r#"struct.unpack('', 'abc', 1e300)"#, r#"-9.2233720368547758e+18"#),
            (r#"struct.unpack('', 'abc', 0/0)"#, r#"-9.2233720368547758e+18"#),
            (r#"struct.unpack('', 'abc', 2^53)"#, r#"9007199254740992"#),
            (r#"struct.unpack('', 'abc', -2^53)"#, r#"-9007199254740992"#),
            (r#"struct.unpack('b', 123)"#, r#"49,2"#),
            (r#"struct.unpack('!4 b i', '\1\0\0\0\2\0\0\0')"#, r#"1,2,9"#),
            (r#"struct.unpack('!8 b d', '\1\0\0\0\0\0\0\0\0\0\0\0\0\0\0\64')"#, r#"1,2,17"#),
            (r#"struct.unpack('!4 b c3 b', '\1abc\2')"#, r#"1,"abc",2,6"#),
            (r#"struct.unpack('!4 b s i', '\1ab\0\2\0\0\0')"#, r#"1,"ab",2,9"#),
            (r#"struct.unpack('!4 i', '\0\1\0\0\0\0\0\0\2\0', 2)"#, r#"0,9"#),
            (r#"struct.unpack('!4 b i', '\0\1\0\0\0\2\0\0\0\0', 2)"#, r#"1,512,9"#),
            (r#"struct.unpack('!4 b i', '\0\0\1\0\2\0\0\0\0\0', 3)"#, r#"1,2,9"#),
            (r#"struct.unpack('>!4 b h', '\1\0\0\2')"#, r#"1,2,5"#),
            (r#"struct.unpack('b\0b', '\1\2')"#, r#"1,2"#),
            (r#"struct.unpack('<i2 >i2', '\1\0\0\1')"#, r#"1,1,5"#),
            (r#"struct.unpack(' ', '')"#, r#"1"#),
            (r#"struct.unpack('>I2', 'ab', 1, 'extra')"#, r#"24930,3"#),
            (r#"struct.unpack('bc0', '\0')"#, r#""",2"#),
        ],
    );
}

#[test]
fn unpack_errors() {
    check_all(
        &state(),
        &[
            (
                r#"struct.unpack('>i33', string.rep('\0', 40))"#,
                r#"ERR:string:user_script:1: integral size 33 is larger than limit of 32"#,
            ),
            (r#"struct.unpack('c0', 'abc')"#, r#"ERR:string:user_script:1: format 'c0' needs a previous size"#),
            (r#"struct.unpack('c1 c0', 'xabcdef')"#, r#"ERR:string:user_script:1: format 'c0' needs a previous size"#),
            (
                r#"struct.unpack('b c0', '\9abc')"#,
                r#"ERR:string:user_script:1: bad argument #2 to 'unpack' (data string too short)"#,
            ),
            (
                r#"struct.unpack('b c0', '\255abc')"#,
                r#"ERR:string:user_script:1: bad argument #2 to 'unpack' (data string too short)"#,
            ),
            (
                r#"struct.unpack('d c0', '\0\0\0\0\0\0\248\127abc')"#,
                r#"ERR:string:user_script:1: bad argument #2 to 'unpack' (data string too short)"#,
            ),
            (
                r#"struct.unpack('d c0', '\0\0\0\0\0\0\0\192abc')"#,
                r#"ERR:string:user_script:1: bad argument #2 to 'unpack' (data string too short)"#,
            ),
            (
                r#"struct.unpack('bb c0 c0', '\1\2abc')"#,
                r#"ERR:string:user_script:1: format 'c0' needs a previous size"#,
            ),
            (r#"struct.unpack('b c0 c0', '\1abc')"#, r#"ERR:string:user_script:1: format 'c0' needs a previous size"#),
            (r#"struct.unpack('c0 b', 'abc')"#, r#"ERR:string:user_script:1: format 'c0' needs a previous size"#),
            (r#"struct.unpack('s', 'abc')"#, r#"ERR:string:user_script:1: unfinished string in data"#),
            (r#"struct.unpack('b s', '\1')"#, r#"ERR:string:user_script:1: unfinished string in data"#),
            (
                r#"struct.unpack('x', '')"#,
                r#"ERR:string:user_script:1: bad argument #2 to 'unpack' (data string too short)"#,
            ),
            (
                r#"struct.unpack('xb', 'a')"#,
                r#"ERR:string:user_script:1: bad argument #2 to 'unpack' (data string too short)"#,
            ),
            (
                r#"struct.unpack('b', '')"#,
                r#"ERR:string:user_script:1: bad argument #2 to 'unpack' (data string too short)"#,
            ),
            (
                r#"struct.unpack('b', 'abc', 4)"#,
                r#"ERR:string:user_script:1: bad argument #2 to 'unpack' (data string too short)"#,
            ),
            (
                r#"struct.unpack('b', 'abc', 0)"#,
                r#"ERR:string:user_script:1: bad argument #3 to 'unpack' (offset must be 1 or greater)"#,
            ),
            (
                r#"struct.unpack('b', 'abc', -1)"#,
                r#"ERR:string:user_script:1: bad argument #2 to 'unpack' (data string too short)"#,
            ),
            (
                r#"struct.unpack('b', 'abc', 'x')"#,
                r#"ERR:string:user_script:1: bad argument #3 to 'unpack' (number expected, got string)"#,
            ),
            (
                r#"struct.unpack('b', 'abc', {})"#,
                r#"ERR:string:user_script:1: bad argument #3 to 'unpack' (number expected, got table)"#,
            ),
            (
                r#"struct.unpack('b', 'abc', 1e300)"#,
                r#"ERR:string:user_script:1: bad argument #2 to 'unpack' (data string too short)"#,
            ),
            (
                r#"struct.unpack('b')"#,
                r#"ERR:string:user_script:1: bad argument #2 to 'unpack' (string expected, got no value)"#,
            ),
            (
                r#"struct.unpack('b', nil)"#,
                r#"ERR:string:user_script:1: bad argument #2 to 'unpack' (string expected, got nil)"#,
            ),
            (
                r#"struct.unpack('b', {})"#,
                r#"ERR:string:user_script:1: bad argument #2 to 'unpack' (string expected, got table)"#,
            ),
            (
                r#"struct.unpack()"#,
                r#"ERR:string:user_script:1: bad argument #1 to 'unpack' (string expected, got no value)"#,
            ),
            (
                r#"struct.unpack(nil, 'a')"#,
                r#"ERR:string:user_script:1: bad argument #1 to 'unpack' (string expected, got nil)"#,
            ),
            (
                r#"struct.unpack(1, 'a')"#,
                r#"ERR:string:user_script:1: bad argument #1 to 'unpack' (invalid format option '1')"#,
            ),
            (
                r#"struct.unpack('z', 'a')"#,
                r#"ERR:string:user_script:1: bad argument #1 to 'unpack' (invalid format option 'z')"#,
            ),
            (r#"struct.unpack('!3', 'a')"#, r#"ERR:string:user_script:1: alignment 3 is not a power of 2"#),
            (
                r#"struct.unpack('i40', 'a')"#,
                r#"ERR:string:user_script:1: integral size 40 is larger than limit of 32"#,
            ),
            (
                r#"struct.unpack('!4 b i', '\1\0\0\0\2\0\0')"#,
                r#"ERR:string:user_script:1: bad argument #2 to 'unpack' (data string too short)"#,
            ),
            (
                r#"struct.unpack('!4 b i', '\1\0\0')"#,
                r#"ERR:string:user_script:1: bad argument #2 to 'unpack' (data string too short)"#,
            ),
            (
                r#"struct.unpack('c2147483647', 'abc')"#,
                r#"ERR:string:user_script:1: bad argument #2 to 'unpack' (data string too short)"#,
            ),
            (r#"struct.unpack('c99999999999', 'abc')"#, r#"ERR:string:user_script:1: integral size overflow"#),
            (
                r#"struct.unpack('b b', '\1\2', 2)"#,
                r#"ERR:string:user_script:1: bad argument #2 to 'unpack' (data string too short)"#,
            ),
            (
                r#"struct.unpack('bc0', '\0', 2)"#,
                r#"ERR:string:user_script:1: bad argument #2 to 'unpack' (data string too short)"#,
            ),
        ],
    );
}
