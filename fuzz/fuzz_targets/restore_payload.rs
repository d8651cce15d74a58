//! RESTORE's payload decoder on arbitrary bytes. Most random inputs fail the
//! CRC-64 check, so every input is also tried with a valid footer appended:
//! the RDB value decoder then sees it whole.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)] // each target uses part of the drivers
#[path = "../drivers.rs"]
mod drivers;

fuzz_target!(|data: &[u8]| {
    drivers::restore_payload(data);
    drivers::restore_payload(&drivers::with_footer(data));
});
