#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| airseal_core::fuzz_hooks::revocations_round_trip(data));
