//! The customer portal in a real browser (issue 15, DESIGN15 §6): Debian's headless Chromium
//! driven by playwright-core (`tests/browser/portal.cjs`), with JavaScript off, against the
//! real `airseal serve`. A request made by `airseal request` is uploaded, the response
//! downloaded, installed with `airseal install` and verified; a second machine is refused in
//! the customer's terms (with the support address from `airseal.toml`); the first machine's
//! deactivation proof frees the seat through the portal, and the second machine's request,
//! pasted as text this time, is answered, installed and verified. Screenshots of every step
//! are kept in `target/browser-artifacts/` (the path is printed).
//!
//! Needs `AIRSEAL_TEST_BROWSER` (a folder whose `node_modules` holds playwright-core; `.ci/run`
//! sets it up): without it the test says it skipped.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use airseal_core::armor::{QR_PREFIX, dearmor};
use serde_json::Value;

mod common;
use common::service::Service;
use common::{MACHINE_A, airseal, browser_or_skip, init_vendor, ok};

const SUPPORT: &str = "support@acme.example";

const PRODUCTS: &str = "\n[portal]\nsupport = \"support@acme.example\"\n\n\
    [products.photo-pro]\nname = \"Photo Pro\"\nactivation_template = \"pro\"\n\
    [products.photo-pro.templates.pro]\nkind = \"subscription\"\ndays = 365\n\
    max_activations = 1\nmax_deactivations = 3\n";

const MACHINE_B: [&str; 7] = [
    "--data-dir",
    "machine-b",
    "--no-system-components",
    "--component",
    "machine-id=b1",
    "--component",
    "root-disk=disk-b",
];

/// Where the screenshots and downloads go: `target/browser-artifacts/`.
fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("browser-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// One step of `portal.cjs` in the browser; the JSON line it prints.
fn browse(modules: &Path, step: &str, url: &str, input: &Path, out: &Path, name: &str) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/portal.cjs");
    let o = Command::new("node")
        .arg(&script)
        .args([step, url])
        .arg(input)
        .arg(out)
        .arg(name)
        .env("AIRSEAL_TEST_BROWSER", modules)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "portal.cjs {step}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let result: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(result["problems"], Value::Array(vec![]), "{result}");
    let csp = result["csp"].as_str().unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(Path::new(result["screenshot"].as_str().unwrap()).is_file());
    result
}

/// What a camera reads from the QR code as the browser showed it (a PNG screenshot),
/// decoded by `rqrr`.
fn scan(png: &Path) -> String {
    let mut reader = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(png).unwrap()))
        .read_info()
        .unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    let (w, h) = (info.width as usize, info.height as usize);
    let mut img =
        rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| buf[(y * w + x) * channels]);
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in {}", png.display());
    let mut text = Vec::new();
    grids[0].decode_to(&mut text).unwrap();
    String::from_utf8(text).unwrap()
}

/// The page's QR code holds the response that was downloaded.
fn assert_qr_is_the_download(r: &Value) {
    let scanned = scan(Path::new(r["qr_png"].as_str().unwrap()));
    assert!(scanned.starts_with(QR_PREFIX), "{scanned}");
    let downloaded = std::fs::read(r["download"].as_str().unwrap()).unwrap();
    assert_eq!(
        dearmor(scanned.as_bytes()).unwrap(),
        dearmor(&downloaded).unwrap()
    );
}

fn request(d: &Path, key: &str, machine: &[&str], out: &str) {
    let mut args = vec![
        "request",
        "--product",
        "photo-pro",
        "--key",
        key,
        "--out",
        out,
    ];
    args.extend(machine);
    ok(&airseal(d, &args));
}

fn install_and_verify(d: &Path, response: &Path, machine: &[&str]) {
    let response = response.to_str().unwrap();
    let mut args = vec!["install", response, "--public-key", "keys/signing.pub"];
    args.extend(&machine[..2]);
    let out = ok(&airseal(d, &args));
    assert!(out.contains("INSTALLED"), "{out}");
    let mut args = vec![
        "verify",
        "--machine",
        "--product",
        "photo-pro",
        "--public-key",
        "keys/signing.pub",
    ];
    args.extend(machine);
    ok(&airseal(d, &args));
}

#[test]
fn a_customer_activates_moves_and_is_refused_through_the_portal_in_a_browser() {
    let Some(modules) = browser_or_skip(
        "a_customer_activates_moves_and_is_refused_through_the_portal_in_a_browser",
    ) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    init_vendor(d, PRODUCTS);
    ok(&airseal(
        d,
        &[
            "issuing-key",
            "create",
            "--out",
            "issuing/k1",
            "--days",
            "90",
            "--can",
            "licenses,activations",
        ],
    ));
    ok(&airseal(
        d,
        &[
            "keys",
            "generate",
            "--product",
            "photo-pro",
            "--count",
            "1",
            "--out",
            "k.csv",
        ],
    ));
    let csv = std::fs::read_to_string(d.join("k.csv")).unwrap();
    let key = csv
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .to_string();

    let out = artifacts();
    let _ = writeln!(
        std::io::stderr(),
        "portal browser test: screenshots in {}",
        out.display()
    );
    let service = Service::start(d, &["--issuing-key", "issuing/k1"]);

    // Machine A: its request uploaded, the response downloaded, installed and verified.
    request(d, &key, &MACHINE_A, "a.req");
    let r = browse(
        &modules,
        "activate",
        &service.url,
        &d.join("a.req"),
        &out,
        "1-activated",
    );
    assert_eq!(r["status"], 200, "{r}");
    assert_eq!(r["headline"], "Your response is ready", "{r}");
    assert!(r["text"].as_str().unwrap().contains("Photo Pro"), "{r}");
    assert_eq!(r["qr_svg"], 1, "{r}");
    assert_eq!(r["suggested"], "response.txt", "{r}");
    assert_qr_is_the_download(&r);
    install_and_verify(d, Path::new(r["download"].as_str().unwrap()), &MACHINE_A);

    // Machine B, same key: its one seat is taken; told in the customer's terms.
    request(d, &key, &MACHINE_B, "b.req");
    let r = browse(
        &modules,
        "refused",
        &service.url,
        &d.join("b.req"),
        &out,
        "2-refused",
    );
    assert_eq!(r["status"], 409, "{r}");
    assert_eq!(r["headline"], "This key has no free seat", "{r}");
    let text = r["text"].as_str().unwrap();
    assert!(
        text.contains("Release it on the old machine") && text.contains(SUPPORT),
        "{text}"
    );

    // Machine A gives its seat back; the proof is uploaded through the portal.
    ok(&airseal(
        d,
        &["release", "--data-dir", "machine-a", "--out", "a.proof"],
    ));
    let r = browse(
        &modules,
        "deactivate",
        &service.url,
        &d.join("a.proof"),
        &out,
        "3-released",
    );
    assert_eq!(r["status"], 200, "{r}");
    assert_eq!(r["headline"], "The seat is free", "{r}");

    // Machine B's same request, pasted as text this time, is answered now.
    let r = browse(
        &modules,
        "activate-paste",
        &service.url,
        &d.join("b.req"),
        &out,
        "4-moved",
    );
    assert_eq!(r["status"], 200, "{r}");
    assert_qr_is_the_download(&r);
    install_and_verify(d, Path::new(r["download"].as_str().unwrap()), &MACHINE_B);
}
