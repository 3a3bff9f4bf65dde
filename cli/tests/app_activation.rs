//! The app side of offline activation through the CLI: `airseal request`, `install`,
//! `verify --machine` and `release`, on simulated machines (`--no-system-components` with
//! `--component`), with the vendor played by the library so these tests do not depend on
//! the vendor commands.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use airseal_core::armor::armor;
use airseal_core::cose::ObjectType;
use airseal_core::{KeyId, LicenseClaims, MachineBinding};
use airseal_vendor::issue::Issuer;
use airseal_verify::activation::{verify_deactivation, verify_request};
use serde_json::Value;

const PASS: &str = "test passphrase";
const KEY: &str = "7K3QD-M2XRP-9FTWB-4HCNV";

fn airseal_env(dir: &Path, args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_airseal"));
    cmd.current_dir(dir)
        .args(args)
        .env("AIRSEAL_PASSPHRASE", PASS)
        .env_remove("AIRSEAL_DATA_DIR")
        .env_remove("XDG_DATA_HOME");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn airseal(dir: &Path, args: &[&str]) -> Output {
    airseal_env(dir, args, &[])
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A simulated machine: only the components given, never the real machine's.
fn machine(id: &str, host: &str, pod: &str) -> Vec<String> {
    let mut args = vec!["--no-system-components".to_string()];
    for c in [
        format!("machine-id={id}"),
        format!("hostname={host}"),
        format!("custom:pod={pod}"),
    ] {
        args.push("--component".into());
        args.push(c);
    }
    args
}

fn with(base: &[&str], more: &[String]) -> Vec<String> {
    base.iter()
        .map(|s| s.to_string())
        .chain(more.iter().cloned())
        .collect()
}

fn run(dir: &Path, args: &[String]) -> Output {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    airseal(dir, &refs)
}

/// A folder with a vendor key pair (keys/) and the vendor's `Issuer` over it.
fn setup() -> (tempfile::TempDir, PathBuf, Issuer) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let o = airseal(&dir, &["keygen", "--out", "keys"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = std::fs::read(dir.join("keys/signing.key")).unwrap();
    let key = airseal_vendor::keyfile::decrypt_signing_key(&text, PASS.as_bytes()).unwrap();
    (tmp, dir, Issuer::new(key))
}

/// The vendor's answer to the request in `request_file`: bound 2 of 3, armored.
fn respond(vendor: &Issuer, dir: &Path, request_file: &str, response_file: &str) {
    let req = verify_request(&std::fs::read(dir.join(request_file)).unwrap()).unwrap();
    let mut claims = LicenseClaims::new("acme", "LIC-CLI", &req.product, 1_767_225_600, vec![5; 8]);
    claims.product_key = req.product_key.clone();
    claims.request_nonce = Some(req.nonce);
    claims.machine = Some(MachineBinding {
        threshold: 2,
        components: req.components.clone(),
        device_key: Some(KeyId::of_public_key(&req.device_key).0),
    });
    let bytes = vendor.issue_activation_response(claims).unwrap();
    let text = armor(ObjectType::ActivationResponse.armor_label(), &bytes);
    std::fs::write(dir.join(response_file), text).unwrap();
}

fn verify_machine(dir: &Path, m: &[String]) -> (i32, Value, String) {
    let args = with(
        &[
            "verify",
            "--machine",
            "--product",
            "photo-pro",
            "--public-key",
            "keys/signing.pub",
            "--data-dir",
            "data",
            "--now",
            "2026-06-01",
            "--json",
        ],
        m,
    );
    let o = run(dir, &args);
    let j = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    (code(&o), j, stderr(&o))
}

#[test]
fn request_install_verify_release() {
    let (_tmp, dir, vendor) = setup();
    let a = machine("m-a", "host-a", "pod-a");
    let request = with(
        &[
            "request",
            "--product",
            "photo-pro",
            "--key",
            KEY,
            "--data-dir",
            "data",
            "--app-version",
            "4.2.1",
            "--meter",
            "projects=12",
            "--now",
            "2026-01-01",
            "--out",
            "request.txt",
        ],
        &a,
    );
    let o = run(&dir, &request);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("activation request for photo-pro (3 fingerprint components"));
    let text = std::fs::read_to_string(dir.join("request.txt")).unwrap();
    assert!(text.starts_with("-----BEGIN AIRSEAL ACTIVATION REQUEST-----"));
    let req = verify_request(text.as_bytes()).unwrap();
    // The key as entered; the vendor finds the stored key (SPEC.md §15.6).
    assert_eq!(req.product_key.as_deref(), Some(KEY));
    assert_eq!(req.meters, vec![("projects".to_string(), 12)]);
    assert_eq!(req.created, 1_767_225_600);
    // Not again without --force: the pending request would be replaced.
    let o = run(&dir, &request);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("request.txt: already exists"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        verify_request(&std::fs::read(dir.join("data/pending.req")).unwrap()).unwrap(),
        req
    );

    // Not installed yet.
    let o = run(
        &dir,
        &with(
            &[
                "verify",
                "--machine",
                "--product",
                "photo-pro",
                "--public-key",
                "keys/signing.pub",
                "--data-dir",
                "data",
            ],
            &a,
        ),
    );
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("no license is installed"),
        "{}",
        stderr(&o)
    );

    respond(&vendor, &dir, "request.txt", "response.txt");
    let install = [
        "install",
        "response.txt",
        "--public-key",
        "keys/signing.pub",
        "--data-dir",
        "data",
        "--now",
        "2026-01-02",
    ];
    let o = airseal(&dir, &install);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("INSTALLED license LIC-CLI for product photo-pro"));
    assert!(stdout(&o).contains("2 of 3 fingerprint components"));

    let (c, j, e) = verify_machine(&dir, &a);
    assert_eq!(c, 0, "{e}");
    assert_eq!(j["valid"], true);
    // One component changed (the pod was rescheduled): still valid, 2 of 3.
    let (c, _, e) = verify_machine(&dir, &machine("m-a", "host-a", "pod-b"));
    assert_eq!(c, 0, "{e}");
    // Another machine: exit 18.
    let (c, j, _) = verify_machine(&dir, &machine("m-b", "host-b", "pod-a"));
    assert_eq!(c, 18);
    assert_eq!(j["error"], "wrong_machine");

    // The same response again: nothing pending, and as an update of the installed license
    // it is not newer (exit 30, SPEC.md §15.8).
    let o = airseal(&dir, &install);
    assert_eq!(code(&o), 30, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("response.txt: refused"),
        "{}",
        stderr(&o)
    );

    // Release: proof out, license gone.
    let o = airseal(
        &dir,
        &["release", "--data-dir", "data", "--out", "proof.txt"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("RELEASED"));
    let proof = verify_deactivation(&std::fs::read(dir.join("proof.txt")).unwrap()).unwrap();
    assert_eq!(proof.license_id, "LIC-CLI");
    assert_eq!(proof.device_key, req.device_key);
    assert!(!dir.join("data/license.lic").exists());
    let (c, _, e) = verify_machine(&dir, &a);
    assert_eq!(c, 1);
    assert!(e.contains("no license is installed"), "{e}");
    // Released again: the same proof, on standard output; the file is not replaced.
    let o = airseal(
        &dir,
        &["release", "--data-dir", "data", "--out", "proof.txt"],
    );
    assert_eq!(code(&o), 1);
    let o = airseal(&dir, &["release", "--data-dir", "data"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(verify_deactivation(stdout(&o).as_bytes()).unwrap(), proof);
}

#[test]
fn trial_raw_output_qr_and_default_folders() {
    let (_tmp, dir, _vendor) = setup();
    let a = machine("m-a", "host-a", "pod-a");
    // The data folder under XDG_DATA_HOME, named after the product.
    let xdg = dir.join("xdg");
    let args = with(
        &[
            "request",
            "--product",
            "photo-pro",
            "--trial",
            "--out",
            "trial.req",
            "--raw",
            "--qr",
            "--qr-png",
            "trial.png",
            "--qr-svg",
            "trial.svg",
        ],
        &a,
    );
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = airseal_env(&dir, &refs, &[("XDG_DATA_HOME", &xdg)]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains('█'), "a QR code in the terminal");
    let raw = std::fs::read(dir.join("trial.req")).unwrap();
    assert_eq!(raw.first(), Some(&0xd2), "raw COSE_Sign1 (tag 18)");
    let req = verify_request(&raw).unwrap();
    assert_eq!(req.product_key, None);
    assert!(xdg.join("airseal/photo-pro/pending.req").exists());
    assert!(
        std::fs::read(dir.join("trial.png"))
            .unwrap()
            .starts_with(b"\x89PNG")
    );
    assert!(
        std::fs::read_to_string(dir.join("trial.svg"))
            .unwrap()
            .contains("<svg")
    );

    // AIRSEAL_DATA_DIR names the folder itself, and wins over XDG_DATA_HOME.
    let own = dir.join("own");
    let args = with(&["request", "--product", "photo-pro", "--key", KEY], &a);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = airseal_env(
        &dir,
        &refs,
        &[("XDG_DATA_HOME", &xdg), ("AIRSEAL_DATA_DIR", &own)],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).starts_with("-----BEGIN AIRSEAL ACTIVATION REQUEST-----"));
    assert!(own.join("pending.req").exists());
}

#[test]
fn usage_errors() {
    let (_tmp, dir, _vendor) = setup();
    let a = machine("m-a", "host-a", "pod-a");
    for bad in [
        with(
            &[
                "request",
                "--product",
                "p",
                "--key",
                KEY,
                "--trial",
                "--data-dir",
                "d",
            ],
            &a,
        ),
        with(&["request", "--product", "p", "--data-dir", "d"], &a),
        vec![
            "request".into(),
            "--product".into(),
            "p".into(),
            "--key".into(),
            KEY.into(),
            "--data-dir".into(),
            "d".into(),
            "--component".into(),
            "serial=1".into(),
        ],
        vec![
            "request".into(),
            "--product".into(),
            "p".into(),
            "--key".into(),
            KEY.into(),
            "--data-dir".into(),
            "d".into(),
            "--component".into(),
            "hostname".into(),
        ],
        vec![
            "verify".into(),
            "--product".into(),
            "p".into(),
            "--public-key".into(),
            "k".into(),
        ],
    ] {
        let o = run(&dir, &bad);
        assert_eq!(code(&o), 2, "{bad:?}: {}", stderr(&o));
    }
    // No component at all: a clear error, nothing created.
    let o = airseal(
        &dir,
        &[
            "request",
            "--product",
            "p",
            "--key",
            KEY,
            "--data-dir",
            "d",
            "--no-system-components",
        ],
    );
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("no fingerprint components"),
        "{}",
        stderr(&o)
    );
    assert!(!dir.join("d").exists());
    // A response that is not one.
    std::fs::write(dir.join("junk.txt"), "hello").unwrap();
    let o = airseal(
        &dir,
        &["install", "junk.txt", "--public-key", "keys/signing.pub"],
    );
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("junk.txt: not an activation response"),
        "{}",
        stderr(&o)
    );
    // A damaged device key names the file.
    std::fs::create_dir(dir.join("d")).unwrap();
    std::fs::write(dir.join("d/device.key"), "garbage").unwrap();
    let args = with(
        &["request", "--product", "p", "--key", KEY, "--data-dir", "d"],
        &a,
    );
    let o = run(&dir, &args);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("device.key: not a device key file"),
        "{}",
        stderr(&o)
    );
}
