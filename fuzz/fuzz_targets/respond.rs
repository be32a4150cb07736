//! Any bytes through the query path (engine with DNS cookies, then RRL):
//! see `dnslb::fuzzing::respond_one` for the invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| dnslb::fuzzing::respond_one(data));
