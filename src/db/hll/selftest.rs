//! `PFSELFTEST`: Redis's self-test of the register code and the estimator,
//! run against this implementation.

use super::{count, dense_add, dense_get, dense_set, new_sparse, DENSE_SIZE, HDR, REGISTERS, REGISTER_MAX};

/// Rounds of the register round-trip test.
const REGISTER_ROUNDS: usize = 1000;
/// Elements added by the estimator test.
const ELEMENTS: u64 = 10_000_000;

/// Runs the self-test: every dense register holds what was stored in it
/// without disturbing its neighbours, and for 1, 10, …, 10 million distinct
/// elements a dense and a sparse sketch agree, the sparse one stays sparse
/// while small, and the estimate is within six standard errors. `Err`
/// carries Redis's `TESTFAILED …` message. O(10 million additions): a few
/// seconds.
pub fn run(sparse_max_bytes: usize) -> Result<(), String> {
    let mut dense = vec![0u8; DENSE_SIZE];
    dense[..4].copy_from_slice(b"HYLL");
    let mut expected = vec![0u8; REGISTERS];
    for _ in 0..REGISTER_ROUNDS {
        for (i, e) in expected.iter_mut().enumerate() {
            *e = fastrand::u8(..) & REGISTER_MAX;
            dense_set(&mut dense[HDR..], i, *e);
        }
        for (i, &e) in expected.iter().enumerate() {
            let got = dense_get(&dense[HDR..], i);
            if got != e {
                return Err(format!("TESTFAILED Register {i} should be {e} but is {got}"));
            }
        }
    }

    dense[HDR..].fill(0);
    let mut sparse = new_sparse();
    let relerr = 1.04 / (REGISTERS as f64).sqrt();
    let seed = fastrand::u64(..);
    let mut checkpoint = 1u64;
    for j in 1..=ELEMENTS {
        let ele = (j ^ seed).to_le_bytes();
        dense_add(&mut dense[HDR..], &ele);
        super::add(&mut sparse, &ele).map_err(|_| "TESTFAILED sparse sketch corrupted".to_string())?;
        if j != checkpoint {
            continue;
        }
        if (j as usize) < sparse_max_bytes / 2 && sparse[4] != 1 {
            return Err("TESTFAILED sparse encoding not used".into());
        }
        let card = count(&dense).map_err(|_| "TESTFAILED dense sketch corrupted".to_string())?;
        if count(&sparse).ok() != Some(card) {
            return Err("TESTFAILED dense/sparse disagree".into());
        }
        let abserr = checkpoint.abs_diff(card);
        // Collisions make a large error at 10 statistically likely.
        let maxerr = if j == 10 { 1 } else { (relerr * 6.0 * checkpoint as f64).ceil() as u64 };
        if abserr > maxerr {
            return Err(format!("TESTFAILED Too big error. card:{checkpoint} abserr:{abserr}"));
        }
        checkpoint *= 10;
    }
    Ok(())
}
