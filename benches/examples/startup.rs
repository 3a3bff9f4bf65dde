//! What an app pays at startup: `startup read LICENSE` only reads the file; `startup verify
//! LICENSE PUBLIC_KEY` reads it and the public key file and verifies the license. The
//! `startup_bench` example runs both many times, interleaved, and compares wall times.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(mode), Some(license)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: startup read LICENSE | startup verify LICENSE PUBLIC_KEY");
        return ExitCode::from(2);
    };
    let Ok(bytes) = std::fs::read(license) else {
        return ExitCode::from(3);
    };
    if mode == "read" {
        return ExitCode::from(u8::from(bytes.is_empty()));
    }
    let Some(Ok(public)) = args.get(3).map(std::fs::read) else {
        return ExitCode::from(3);
    };
    let mut trust = airseal_verify::TrustStore::new();
    if trust.add_public_key_file(&public).is_err() {
        return ExitCode::from(19);
    }
    let expected = airseal_verify::Expected::product("photo-pro");
    match trust.verify(&bytes, 1_767_225_600, &expected) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => ExitCode::from(e.code()),
    }
}
