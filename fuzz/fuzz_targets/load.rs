//! Any text as a zone file and a policy file: see
//! `dnslb::fuzzing::load_one` for the invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| dnslb::fuzzing::load_one(data));
