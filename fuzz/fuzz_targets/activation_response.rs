#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| airseal_verify::fuzz_activation_response(data));
