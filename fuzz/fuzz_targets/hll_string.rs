//! The HyperLogLog code on arbitrary strings. Inputs are tried as they are
//! and behind a valid sparse header, so the register walkers see them.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)] // each target uses part of the drivers
#[path = "../drivers.rs"]
mod drivers;

fuzz_target!(|data: &[u8]| {
    drivers::hll_string(data);
    drivers::hll_string(&drivers::behind_sparse_header(data));
});
