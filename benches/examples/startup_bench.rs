//! Whole-process cost of verifying at startup (BENCHMARKS.md): runs `startup read` and
//! `startup verify` alternately, 501 times each, and reports median wall times and their
//! ratio. Build both first: `cargo build --release -p airseal-benches --examples`, then
//! `cargo run --release -p airseal-benches --example startup_bench`.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

fn run(bin: &PathBuf, args: &[&str]) -> f64 {
    let t = Instant::now();
    let status = Command::new(bin).args(args).status().expect("run startup");
    let elapsed = t.elapsed().as_secs_f64() * 1e6;
    assert!(status.success(), "{args:?} failed: {status}");
    elapsed
}

use airseal_benches::median;

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let bin = std::env::current_exe().unwrap().with_file_name("startup");
    let license = root.join("vectors/doc-example.lic");
    let lic = license.to_str().unwrap();
    let (mut read, mut verify) = (Vec::new(), Vec::new());
    for _ in 0..20 {
        run(&bin, &["verify", lic]); // warm the page cache and the binary
    }
    for _ in 0..501 {
        read.push(run(&bin, &["read", lic]));
        verify.push(run(&bin, &["verify", lic]));
    }
    let (r, v) = (median(&mut read), median(&mut verify));
    println!(
        "read only: {r:.0} us | read + verify: {v:.0} us | ratio {:.3} (target <= 1.1)",
        v / r
    );
}
