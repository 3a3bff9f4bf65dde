#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| airseal_verify::fuzz_certificate(data));
