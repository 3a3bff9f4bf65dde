//! `airseal demo`: the whole flow in a fresh temporary folder, printing each step and the
//! command a user would type for it. Steps 1-8 call the same code as those commands; the
//! offline activation steps run this very binary with exactly the arguments printed, on two
//! simulated air-gapped machines (explicit fingerprint components, so the demo behaves the
//! same everywhere). The last steps start the vendor service (`airseal serve`, this binary
//! again) on a free local port and activate a third machine through its HTTP API, as a web
//! shop or the customer portal would.

use std::path::Path;
use std::process::{Command, ExitCode};

use clap::Args;

use super::{init, inspect, issue, keys, verify};
use crate::args::PassphraseArgs;
use crate::error::CliError;

/// Arguments of `airseal demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the demo folder instead of deleting it at the end.
    #[arg(long)]
    pub keep: bool,
}

fn step(n: u32, title: &str, command: &str) {
    outln!("\n== {n}. {title}\n$ {command}");
}

/// Runs the demo.
pub fn run(args: &DemoArgs) -> Result<ExitCode, CliError> {
    let tmp = tempfile::Builder::new()
        .prefix("airseal-demo-")
        .tempdir()
        .map_err(|e| CliError::io(Path::new("(temp)"), e))?;
    let dir = tmp.path().to_path_buf();
    outln!("airseal demo in {}", dir.display());

    // A demo passphrase in a file, the way scripts and CI supply one.
    let pass_file = dir.join("passphrase.txt");
    crate::io::write_output(&pass_file, b"correct horse battery staple\n", true)?;
    let pass = PassphraseArgs {
        passphrase_file: Some(pass_file.clone()),
    };
    let vendor = dir.join("acme");
    step(
        1,
        "Create a vendor folder: config, encrypted signing key, ledger",
        "airseal init acme --vendor-id acme --passphrase-file passphrase.txt",
    );
    init::run(&init::InitArgs {
        dir: vendor.clone(),
        vendor_id: Some("acme".into()),
        force: false,
        weak_passphrase: false,
        passphrase: pass.clone(),
    })?;
    let keys = vendor.join("keys");
    let config = vendor.join("airseal.toml");
    let mut cfg = std::fs::read_to_string(&config).map_err(|e| CliError::io(&config, e))?;
    cfg.push_str(
        "\n[products.photo-pro]\nname = \"Photo Pro\"\nkey_pattern = \"XXXXX-XXXXX-XXXXX-XXXXX\"\n\
         activation_template = \"pro\"\n\n\
         [products.photo-pro.templates.pro]\nkind = \"subscription\"\ndays = 365\n\
         features = [\"F1\"]\nmax_activations = 1\nmax_deactivations = 3\n",
    );
    // Owner-only, as `init` created it: the configuration may hold secrets (SPEC.md §17.5).
    crate::io::write_private_output(&config, cfg.as_bytes(), true)?;
    outln!(
        "(added [products.photo-pro] to acme/airseal.toml: keys activate with template \"pro\", \
         one machine at a time)"
    );

    let batch_file = dir.join("photo-pro-keys.csv");
    step(
        2,
        "Generate a batch of unique product keys, recorded in the ledger",
        "airseal keys generate --vendor acme --product photo-pro --count 5 --out photo-pro-keys.csv",
    );
    let vendor_args = crate::args::VendorArgs {
        vendor: Some(vendor.clone()),
        // The demo's own folder and ledger, never $AIRSEAL_DATABASE's.
        database: Some(String::new()),
    };
    keys::run(&keys::KeysArgs {
        command: keys::KeysCommand::Generate(keys::GenerateArgs {
            product: "photo-pro".into(),
            count: 5,
            kind: airseal_vendor::keys::KeyKind::Random,
            pattern: None,
            features: Vec::new(),
            days: None,
            format: None,
            out: batch_file.clone(),
            force: false,
            quiet: false,
            json: false,
            allow_weak: false,
            template: None,
            customer: None,
            seed: None,
            insecure_seed: false,
            passphrase: pass.clone(),
            signer: crate::args::SignerArgs::default(),
        }),
        vendor: vendor_args.clone(),
    })?;
    let csv = std::fs::read_to_string(&batch_file).map_err(|e| CliError::io(&batch_file, e))?;
    out!("{csv}");
    let product_key = csv
        .lines()
        .nth(1)
        .and_then(|l| l.split(',').next())
        .unwrap_or_default()
        .to_string();

    let typo = typo_of(&product_key);
    step(
        3,
        "A customer mistypes the key: airseal tells a typo from an unknown or forged key",
        &format!("airseal keys inspect --vendor acme {typo}"),
    );
    let code = keys::run(&keys::KeysArgs {
        command: keys::KeysCommand::Inspect(keys::InspectKeyArgs {
            key: typo,
            product: Some("photo-pro".into()),
            format: "airseal".into(),
            secret: None,
            json: false,
        }),
        vendor: vendor_args,
    })?;
    expect(code, 20, "a typo (exit 20)")?;

    let license = dir.join("jane.lic");
    step(
        4,
        "Issue a license for that key",
        "airseal issue --key acme/keys/signing.key --product photo-pro --product-key KEY \\\n    \
         --licensee-email jane@example.com --licensee-name 'Jane Doe' --days 365 --features F1,F3 \\\n    \
         --feature export-raw --meta order=A-1001 --max-activations 3 --out jane.lic",
    );
    let mut issue_args = demo_issue_args(&keys, &license, &pass);
    issue_args.product_key = Some(product_key.replace('-', ""));
    // Recorded in the demo's own ledger, never in a vendor folder found from the working
    // directory.
    issue_args.vendor = Some(vendor.clone());
    issue::run(&issue_args)?;
    let text = std::fs::read_to_string(&license).map_err(|e| CliError::io(&license, e))?;
    out!("{text}");

    step(
        5,
        "Verify it offline, as the app does at startup",
        "airseal verify jane.lic --public-key acme/keys/signing.pub --product photo-pro",
    );
    let code = verify::run(&verify_args(&license, &keys, "photo-pro"))?;
    expect(code, 0, "a valid license")?;

    step(
        6,
        "The same license for another product is refused",
        "airseal verify jane.lic --public-key acme/keys/signing.pub --product video-pro",
    );
    let code = verify::run(&verify_args(&license, &keys, "video-pro"))?;
    expect(code, 15, "wrong product (exit 15)")?;

    let tampered = dir.join("tampered.lic");
    step(
        7,
        "A license edited by hand is refused",
        "airseal verify tampered.lic --public-key acme/keys/signing.pub --product photo-pro",
    );
    crate::io::write_output(&tampered, tamper(&text).as_bytes(), true)?;
    let code = verify::run(&verify_args(&tampered, &keys, "photo-pro"))?;
    expect(code, 14, "bad signature (exit 14)")?;

    step(
        8,
        "Look inside without verifying",
        "airseal inspect jane.lic",
    );
    inspect::run(&inspect::InspectArgs {
        file: license.clone(),
        json: false,
    })?;

    air_gap(&dir, &product_key)?;
    // The batch's second key: the first one's only seat is on machine B now.
    let second_key = csv
        .lines()
        .nth(2)
        .and_then(|l| l.split(',').next())
        .unwrap_or_default()
        .to_string();
    over_http(&dir, &second_key)?;

    outln!("\nDemo complete: every step behaved as expected.");
    if args.keep {
        let kept = tmp.keep();
        outln!("Files kept in {}", kept.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Two simulated air-gapped machines (data folder, then fingerprint components).
const MACHINE_A: [&str; 9] = [
    "--data-dir",
    "machine-a",
    "--no-system-components",
    "--component",
    "machine-id=4c4c4544-a",
    "--component",
    "mac=02:00:00:00:00:0a",
    "--component",
    "root-disk=disk-a",
];
const MACHINE_B: [&str; 9] = [
    "--data-dir",
    "machine-b",
    "--no-system-components",
    "--component",
    "machine-id=4c4c4544-b",
    "--component",
    "mac=02:00:00:00:00:0b",
    "--component",
    "root-disk=disk-b",
];

/// Steps 9-16: offline activation, a refused second machine, deactivation, the seat moved.
fn air_gap(dir: &Path, product_key: &str) -> Result<(), CliError> {
    let pass = ["--passphrase-file", "passphrase.txt"];
    let public = ["--public-key", "acme/keys/signing.pub"];
    let request = |m: &[&str], out: &str| -> Vec<String> {
        let mut a = words(&["request", "--product", "photo-pro", "--key", product_key]);
        a.extend(words(m));
        a.extend(words(&["--out", out]));
        a
    };
    let verify_on = |m: &[&str]| -> Vec<String> {
        let mut a = words(&["verify", "--machine", "--product", "photo-pro"]);
        a.extend(words(&public));
        a.extend(words(m));
        a
    };
    let install_on = |m: &[&str], response: &str| -> Vec<String> {
        let mut a = words(&["install", response]);
        a.extend(words(&public));
        a.extend(words(m.get(..2).unwrap_or_default()));
        a
    };
    let activate = |req: &str, out: &str| -> Vec<String> {
        let mut a = words(&["activate", req, "--vendor", "acme", "--out", out]);
        a.extend(words(&pass));
        a
    };

    run_step(
        dir,
        9,
        "[machine A, offline] Make an activation request: a file, or a QR code with --qr",
        &request(&MACHINE_A, "a.req"),
        0,
        "a request",
    )?;
    show(&dir.join("a.req"))?;
    run_step(
        dir,
        10,
        "[vendor] Answer it: key checked, seat taken, response bound to machine A",
        &activate("a.req", "a.resp"),
        0,
        "a response",
    )?;
    run_step(
        dir,
        11,
        "[machine A] Install the response: signature, nonce and device key checked",
        &install_on(&MACHINE_A, "a.resp"),
        0,
        "installed",
    )?;
    run_step(
        dir,
        12,
        "[machine A] Verify at every start, against this machine's fingerprint",
        &verify_on(&MACHINE_A),
        0,
        "valid on machine A",
    )?;
    run_step(
        dir,
        13,
        "[machine B] The same key on a second machine: refused, its one seat is taken",
        &request(&MACHINE_B, "b.req"),
        0,
        "a request",
    )?;
    run_step(
        dir,
        13,
        "",
        &activate("b.req", "b.resp"),
        1,
        "no seat left (exit 1)",
    )?;
    let mut release = words(&["release"]);
    release.extend(words(MACHINE_A.get(..2).unwrap_or_default()));
    release.extend(words(&["--out", "a.proof"]));
    run_step(
        dir,
        14,
        "[machine A] Give the seat back: a signed proof; the license is deleted",
        &release,
        0,
        "a deactivation proof",
    )?;
    run_step(
        dir,
        15,
        "[vendor] Accept the proof: the seat is free (the same proof twice is refused)",
        &words(&["deactivate", "a.proof", "--vendor", "acme"]),
        0,
        "seat freed",
    )?;
    run_step(
        dir,
        15,
        "",
        &words(&["deactivate", "a.proof", "--vendor", "acme"]),
        1,
        "a replayed proof is refused (exit 1)",
    )?;
    run_step(
        dir,
        16,
        "[machine B] Its request now succeeds, installs and verifies",
        &activate("b.req", "b.resp"),
        0,
        "a response",
    )?;
    run_step(
        dir,
        16,
        "",
        &install_on(&MACHINE_B, "b.resp"),
        0,
        "installed",
    )?;
    run_step(dir, 16, "", &verify_on(&MACHINE_B), 0, "valid on machine B")?;
    Ok(())
}

/// A third simulated machine, activated through the service.
const MACHINE_C: [&str; 9] = [
    "--data-dir",
    "machine-c",
    "--no-system-components",
    "--component",
    "machine-id=4c4c4544-c",
    "--component",
    "mac=02:00:00:00:00:0c",
    "--component",
    "root-disk=disk-c",
];

/// The vendor service, stopped when dropped.
struct Service(std::process::Child);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Steps 17-20: an issuing key for the service, `airseal serve` on a free local port, a
/// machine's request posted to `POST /v1/activations`, the response installed and verified.
fn over_http(dir: &Path, product_key: &str) -> Result<(), CliError> {
    crate::io::write_output(
        &dir.join("service-passphrase.txt"),
        b"a different passphrase for the service\n",
        true,
    )?;
    run_step(
        dir,
        17,
        "[vendor] Certify an issuing key for the service: the root key stays offline",
        &words(&[
            "issuing-key",
            "create",
            "--vendor",
            "acme",
            "--out",
            "service-key",
            "--days",
            "30",
            "--can",
            "activations",
            "--passphrase-file",
            "passphrase.txt",
            "--issuing-passphrase-file",
            "service-passphrase.txt",
        ]),
        0,
        "an issuing key",
    )?;

    let serve = words(&[
        "serve",
        "--vendor",
        "acme",
        "--listen",
        "127.0.0.1:0",
        "--issuing-key",
        "service-key",
        "--passphrase-file",
        "service-passphrase.txt",
    ]);
    step(
        18,
        "[vendor] Start the service (HTTP API and customer portal) on a free local port",
        &format!("airseal {}", serve.join(" ")),
    );
    let (service, base) = start_service(dir, &serve)?;
    outln!("{base}/ is the customer portal; stores and scripts use {base}/v1/…");

    let mut request = words(&["request", "--product", "photo-pro", "--key", product_key]);
    request.extend(words(&MACHINE_C));
    request.extend(words(&["--out", "c.req"]));
    run_step(
        dir,
        19,
        "[machine C, offline] A request for the batch's second key",
        &request,
        0,
        "a request",
    )?;

    let url = format!("{base}/v1/activations");
    step(
        20,
        "[anyone online] Post it to the service; the response comes back over HTTP",
        &format!("curl --data-binary @c.req {url} -o c.resp"),
    );
    let body = std::fs::read(dir.join("c.req")).map_err(|e| CliError::io(&dir.join("c.req"), e))?;
    let response = post(&url, &body)?;
    crate::io::write_output(&dir.join("c.resp"), response.as_bytes(), true)?;
    out!("{response}");
    outln!("(as expected: activated over HTTP)");
    drop(service);

    let public = words(&["--public-key", "acme/keys/signing.pub"]);
    let mut install = words(&["install", "c.resp"]);
    install.extend(public.clone());
    install.extend(words(MACHINE_C.get(..2).unwrap_or_default()));
    run_step(dir, 20, "", &install, 0, "installed")?;
    let mut verify = words(&["verify", "--machine", "--product", "photo-pro"]);
    verify.extend(public);
    verify.extend(words(&MACHINE_C));
    run_step(dir, 20, "", &verify, 0, "valid on machine C")
}

/// Starts `airseal ARGS` (`serve`) in `dir`; the service and its base URL, once it printed
/// `listening on http://…`.
fn start_service(dir: &Path, args: &[String]) -> Result<(Service, String), CliError> {
    use std::io::BufRead as _;
    let exe = std::env::current_exe().map_err(|e| CliError::io(Path::new("airseal"), e))?;
    let mut child = Command::new(exe)
        .args(args)
        .current_dir(dir)
        .env_remove("AIRSEAL_VENDOR")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| CliError::io(Path::new("airseal serve"), e))?;
    let stdout = child.stdout.take();
    let service = Service(child);
    let mut line = String::new();
    if let Some(stdout) = stdout {
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .map_err(|e| CliError::io(Path::new("airseal serve"), e))?;
    }
    match line.trim().strip_prefix("listening on ") {
        Some(base) => {
            outln!("{}", line.trim());
            Ok((service, base.to_string()))
        }
        None => Err(CliError::msg("demo step 18: the service did not start")),
    }
}

/// `POST url` with `body`; the answer's text when the status is a success.
fn post(url: &str, body: &[u8]) -> Result<String, CliError> {
    let failed = |e: ureq::Error| CliError::msg(format!("demo step 20: POST {url}: {e}"));
    let mut answer = ureq::post(url)
        .header("Content-Type", "text/plain")
        .send(body)
        .map_err(failed)?;
    answer.body_mut().read_to_string().map_err(failed)
}

fn words(w: &[&str]) -> Vec<String> {
    w.iter().map(|s| (*s).to_string()).collect()
}

/// Runs `airseal ARGS` (this binary) in `dir`, printing the command and its output, and
/// checks its exit code.
fn run_step(
    dir: &Path,
    n: u32,
    title: &str,
    args: &[String],
    want: i32,
    what: &str,
) -> Result<(), CliError> {
    let command = format!("airseal {}", args.join(" "));
    if title.is_empty() {
        outln!("$ {command}");
    } else {
        step(n, title, &command);
    }
    let exe = std::env::current_exe().map_err(|e| CliError::io(Path::new("airseal"), e))?;
    let out = Command::new(exe)
        .args(args)
        .current_dir(dir)
        .env_remove("AIRSEAL_VENDOR")
        .env_remove("AIRSEAL_DATA_DIR")
        .output()
        .map_err(|e| CliError::io(Path::new("airseal"), e))?;
    out!("{}", String::from_utf8_lossy(&out.stdout));
    out!("{}", String::from_utf8_lossy(&out.stderr));
    if out.status.code() == Some(want) {
        outln!("(as expected: {what})");
        Ok(())
    } else {
        Err(CliError::msg(format!(
            "demo step {n} did not give {what} (exit {:?})",
            out.status.code()
        )))
    }
}

fn show(path: &Path) -> Result<(), CliError> {
    let text = std::fs::read_to_string(path).map_err(|e| CliError::io(path, e))?;
    out!("{text}");
    Ok(())
}

fn demo_issue_args(keys: &Path, out: &Path, pass: &PassphraseArgs) -> issue::IssueArgs {
    issue::IssueArgs {
        key: Some(keys.join("signing.key")),
        template: None,
        vendor: None,
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
        out: Some(out.to_path_buf()),
        raw: false,
        force: false,
        no_ledger: true,
        json: false,
        passphrase: pass.clone(),
        signer: crate::args::SignerArgs::default(),
        batch: Default::default(),
    }
}

fn verify_args(file: &Path, keys: &Path, product: &str) -> verify::VerifyArgs {
    verify::VerifyArgs {
        file: Some(file.to_path_buf()),
        public_key: vec![keys.join("signing.pub")],
        product: Some(product.into()),
        now: crate::args::NowArgs::default(),
        release_date: None,
        revocations: None,
        json: false,
        machine: false,
        data_dir: None,
        fingerprint: Default::default(),
    }
}

/// The key with one symbol changed, as a customer might mistype it.
fn typo_of(key: &str) -> String {
    let mut chars: Vec<char> = key.chars().collect();
    if let Some(c) = chars.get_mut(7) {
        *c = if *c == 'K' { 'H' } else { 'K' };
    }
    chars.into_iter().collect()
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
        outln!("(as expected: {what})");
        Ok(())
    } else {
        Err(CliError::msg(format!("demo step did not give {what}")))
    }
}
