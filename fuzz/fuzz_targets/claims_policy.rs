#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| airseal_verify::fuzzing::verify_unsigned_claims(data, 1_767_225_600));
