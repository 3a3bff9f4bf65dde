//! `airseal demo`: the whole flow in a fresh temporary folder, printing each step and the
//! command a user would type for it. It calls the same code as those commands.

use std::path::Path;
use std::process::ExitCode;

use clap::Args;

use super::{inspect, issue, keygen, verify};
use crate::PassphraseArgs;
use crate::exit::CliError;

/// Arguments of `airseal demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the demo folder instead of deleting it at the end.
    #[arg(long)]
    pub keep: bool,
}

fn step(n: u32, title: &str, command: &str) {
    println!("\n== {n}. {title}\n$ {command}");
}

/// Runs the demo.
pub fn run(args: &DemoArgs) -> Result<ExitCode, CliError> {
    let tmp = tempfile::Builder::new()
        .prefix("airseal-demo-")
        .tempdir()
        .map_err(|e| CliError::io(Path::new("(temp)"), e))?;
    let dir = tmp.path().to_path_buf();
    println!("airseal demo in {}", dir.display());

    // A demo passphrase in a file, the way scripts and CI supply one.
    let pass_file = dir.join("passphrase.txt");
    std::fs::write(&pass_file, "correct horse battery staple\n")
        .map_err(|e| CliError::io(&pass_file, e))?;
    let pass = PassphraseArgs {
        passphrase_file: Some(pass_file.clone()),
    };
    let keys = dir.join("keys");

    step(
        1,
        "Create the vendor signing key (encrypted at rest)",
        "airseal keygen --out keys --passphrase-file passphrase.txt",
    );
    keygen::run(&keygen::KeygenArgs {
        out: keys.clone(),
        force: false,
        passphrase: pass.clone(),
    })?;

    let license = dir.join("jane.lic");
    step(
        2,
        "Issue a license",
        "airseal issue --key keys/signing.key --product photo-pro --licensee-email jane@example.com \\\n    \
         --licensee-name 'Jane Doe' --days 365 --features F1,F3 --feature export-raw \\\n    \
         --meta order=A-1001 --max-activations 3 --out jane.lic --passphrase-file passphrase.txt",
    );
    let issue_args = demo_issue_args(&keys, &license, &pass);
    issue::run(&issue_args)?;
    let text = std::fs::read_to_string(&license).map_err(|e| CliError::io(&license, e))?;
    print!("{text}");

    step(
        3,
        "Verify it offline, as the app does at startup",
        "airseal verify jane.lic --public-key keys/signing.pub --product photo-pro",
    );
    let code = verify::run(&verify_args(&license, &keys, "photo-pro"))?;
    expect(code, 0, "a valid license")?;

    step(
        4,
        "The same license for another product is refused",
        "airseal verify jane.lic --public-key keys/signing.pub --product video-pro",
    );
    let code = verify::run(&verify_args(&license, &keys, "video-pro"))?;
    expect(code, 15, "wrong product (exit 15)")?;

    let tampered = dir.join("tampered.lic");
    step(
        5,
        "A license edited by hand is refused",
        "airseal verify tampered.lic --public-key keys/signing.pub --product photo-pro",
    );
    std::fs::write(&tampered, tamper(&text)).map_err(|e| CliError::io(&tampered, e))?;
    let code = verify::run(&verify_args(&tampered, &keys, "photo-pro"))?;
    expect(code, 14, "bad signature (exit 14)")?;

    step(
        6,
        "Look inside without verifying",
        "airseal inspect jane.lic",
    );
    inspect::run(&inspect::InspectArgs {
        file: license.clone(),
        json: false,
    })?;

    println!("\nDemo complete: every step behaved as expected.");
    if args.keep {
        let kept = tmp.keep();
        println!("Files kept in {}", kept.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn demo_issue_args(keys: &Path, out: &Path, pass: &PassphraseArgs) -> issue::IssueArgs {
    issue::IssueArgs {
        key: keys.join("signing.key"),
        template: None,
        product: Some("photo-pro".into()),
        issuer: Some("acme".into()),
        kind: Some("subscription".into()),
        licensee_email: Some("jane@example.com".into()),
        licensee_name: Some("Jane Doe".into()),
        licensee_org: None,
        product_key: None,
        expires: None,
        days: Some(365),
        not_before: None,
        features: vec!["F1".into(), "F3".into()],
        feature: vec!["export-raw".into()],
        meta: vec!["order=A-1001".into()],
        max_activations: Some(airseal_vendor::issue::LimitSpec::Count(3)),
        max_deactivations: None,
        maintenance_until: None,
        grace_days: None,
        clock_offset_minutes: None,
        out: out.to_path_buf(),
        raw: false,
        force: false,
        passphrase: pass.clone(),
    }
}

fn verify_args(file: &Path, keys: &Path, product: &str) -> verify::VerifyArgs {
    verify::VerifyArgs {
        file: file.to_path_buf(),
        public_key: vec![keys.join("signing.pub")],
        product: product.into(),
        now: None,
        json: false,
    }
}

/// Changes one base64 character in the middle of the armor body.
fn tamper(text: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if let Some(line) = lines.get_mut(2) {
        let mut chars: Vec<char> = line.chars().collect();
        if let Some(c) = chars.get_mut(10) {
            *c = if *c == 'A' { 'B' } else { 'A' };
        }
        *line = chars.into_iter().collect();
    }
    lines.join("\n") + "\n"
}

fn expect(code: ExitCode, want: u8, what: &str) -> Result<(), CliError> {
    if code == ExitCode::from(want) {
        println!("(as expected: {what})");
        Ok(())
    } else {
        Err(CliError::msg(format!("demo step did not give {what}")))
    }
}
