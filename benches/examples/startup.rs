//! What an app pays at startup: `startup read LICENSE` only reads the file; `startup verify
//! LICENSE` reads it and verifies it against the vendor public key compiled into the
//! program, as an app ships it. The `startup_bench` example runs both many times,
//! interleaved, and compares wall times.

use std::process::ExitCode;

/// The vendor public key, compiled in (apps do not read their trust anchor from a file).
const PUBLIC_KEY: &str = include_str!("../../vectors/doc-example.pub");

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(mode), Some(license)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: startup read LICENSE | startup verify LICENSE");
        return ExitCode::from(2);
    };
    let Ok(bytes) = std::fs::read(license) else {
        return ExitCode::from(3);
    };
    if mode == "read" {
        return ExitCode::from(u8::from(bytes.is_empty()));
    }
    let mut trust = airseal_verify::TrustStore::new();
    if trust.add_public_key_file(PUBLIC_KEY.as_bytes()).is_err() {
        return ExitCode::from(19);
    }
    let expected = airseal_verify::Expected::product("photo-pro");
    match trust.verify(&bytes, 1_767_225_600, &expected) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => ExitCode::from(e.code()),
    }
}
