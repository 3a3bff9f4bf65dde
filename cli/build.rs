//! Puts the git commit and the build date into `airseal --version` when built from a
//! checkout; outside one (a crates.io tarball, no git) the version is the bare number.
//!
//! Reruns only when HEAD or the branch it points at moves (not on every build), so the date
//! is that of the build that first saw the commit. `SOURCE_DATE_EPOCH` (reproducible
//! builds) wins over the clock.

use std::path::Path;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(env_dir())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

fn env_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".to_string())
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn build_date() -> String {
    let secs = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .ok()
                .and_then(|d| i64::try_from(d.as_secs()).ok())
        })
        .unwrap_or(0);
    let (y, m, d) = civil(secs.div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02}")
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    // Only this project's own checkout counts: a tarball unpacked inside some other
    // repository must not take that repository's commit.
    let ours = git(&["ls-files", "--error-unmatch", "Cargo.toml"]).is_some();
    let commit = ours
        .then(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .flatten();
    let suffix = match &commit {
        Some(c) => {
            // Watch HEAD and the ref it names; a path that does not exist would make cargo
            // rerun this on every build, so only existing ones are named.
            let mut watch = vec![git(&[
                "rev-parse",
                "--path-format=absolute",
                "--git-path",
                "HEAD",
            ])];
            if let Some(r) = git(&["symbolic-ref", "-q", "HEAD"]) {
                let file = git(&["rev-parse", "--path-format=absolute", "--git-path", &r]);
                // A fresh clone keeps its refs packed: the branch's own file appears only
                // with the next commit, so its folder is watched too (cargo scans a folder).
                let folder = file
                    .as_deref()
                    .and_then(|f| Path::new(f).parent())
                    .map(|p| p.display().to_string());
                watch.push(file);
                watch.push(folder);
            }
            watch.push(git(&[
                "rev-parse",
                "--path-format=absolute",
                "--git-path",
                "packed-refs",
            ]));
            for p in watch.into_iter().flatten() {
                if Path::new(&p).exists() {
                    println!("cargo:rerun-if-changed={p}");
                }
            }
            format!(" ({c} {})", build_date())
        }
        None => String::new(),
    };
    println!("cargo:rustc-env=AIRSEAL_VERSION_SUFFIX={suffix}");
}
