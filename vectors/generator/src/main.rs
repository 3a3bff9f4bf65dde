//! Writes `vectors/`: `cargo run -p airseal-vectors [-- DIR]`.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".."));
    match write(&dir) {
        Ok(n) => {
            println!("wrote {n} cases to {}", dir.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn write(dir: &std::path::Path) -> std::io::Result<usize> {
    let cases = airseal_vectors::generate();
    let lic = dir.join("licenses");
    if lic.exists() {
        std::fs::remove_dir_all(&lic)?;
    }
    std::fs::create_dir_all(&lic)?;
    for c in &cases {
        std::fs::write(lic.join(&c.file), &c.bytes)?;
    }
    let manifest = serde_json::to_string_pretty(&airseal_vectors::manifest(&cases))
        .map_err(std::io::Error::other)?;
    std::fs::write(dir.join("manifest.json"), manifest + "\n")?;
    let keys = serde_json::to_string_pretty(&airseal_vectors::key_vectors())
        .map_err(std::io::Error::other)?;
    std::fs::write(dir.join("keys.json"), keys + "\n")?;
    let activation = airseal_vectors::activation_cases();
    let act = dir.join("activation");
    if act.exists() {
        std::fs::remove_dir_all(&act)?;
    }
    std::fs::create_dir_all(&act)?;
    for c in &activation {
        std::fs::write(act.join(&c.file), &c.bytes)?;
    }
    let manifest = serde_json::to_string_pretty(&airseal_vectors::activation_manifest(&activation))
        .map_err(std::io::Error::other)?;
    std::fs::write(dir.join("activation.json"), manifest + "\n")?;
    let renewal = airseal_vectors::renewal_cases();
    let ren = dir.join("renewal");
    if ren.exists() {
        std::fs::remove_dir_all(&ren)?;
    }
    std::fs::create_dir_all(&ren)?;
    std::fs::write(
        ren.join("installed.cose"),
        airseal_vectors::renewal_installed(),
    )?;
    for c in &renewal {
        std::fs::write(ren.join(&c.file), &c.bytes)?;
    }
    let manifest = serde_json::to_string_pretty(&airseal_vectors::renewal_manifest(&renewal))
        .map_err(std::io::Error::other)?;
    std::fs::write(dir.join("renewal.json"), manifest + "\n")?;
    let revocations = serde_json::to_string_pretty(&airseal_vectors::revocation_vectors())
        .map_err(std::io::Error::other)?;
    std::fs::write(dir.join("revocations.json"), revocations + "\n")?;
    let chain = airseal_vectors::chain_cases();
    let dir_chain = dir.join("chain");
    if dir_chain.exists() {
        std::fs::remove_dir_all(&dir_chain)?;
    }
    std::fs::create_dir_all(&dir_chain)?;
    for c in &chain {
        std::fs::write(dir_chain.join(&c.file), &c.bytes)?;
    }
    let manifest = serde_json::to_string_pretty(&airseal_vectors::chain_manifest(&chain))
        .map_err(std::io::Error::other)?;
    std::fs::write(dir.join("chain.json"), manifest + "\n")?;
    let (public, license) = airseal_vectors::doc_example();
    std::fs::write(dir.join("doc-example.pub"), public)?;
    std::fs::write(dir.join("doc-example.lic"), license)?;
    Ok(cases.len() + activation.len() + renewal.len() + chain.len())
}
