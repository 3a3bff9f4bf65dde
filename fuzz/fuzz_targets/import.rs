#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| airseal_vendor::fuzzing::fuzz_import(data));
