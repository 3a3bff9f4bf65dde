//! Writes the claims payload of every well-formed vector to DIR (fuzz seed corpus).

fn main() -> std::process::ExitCode {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: extract-payloads DIR");
        return std::process::ExitCode::from(2);
    };
    let dir = std::path::PathBuf::from(dir);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("{}: {e}", dir.display());
        return std::process::ExitCode::FAILURE;
    }
    for case in airseal_vectors::generate() {
        let Ok(raw) = airseal_core::armor::dearmor(&case.bytes) else {
            continue;
        };
        let Ok(sign1) = airseal_core::cose::parse_sign1(&raw) else {
            continue;
        };
        if let Err(e) = std::fs::write(dir.join(&case.file), sign1.payload) {
            eprintln!("{}: {e}", case.file);
            return std::process::ExitCode::FAILURE;
        }
    }
    std::process::ExitCode::SUCCESS
}
