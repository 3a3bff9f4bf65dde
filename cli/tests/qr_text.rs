//! The QR route end to end (`SPEC.md` §5.1): what `--qr` prints under the code is the QR
//! text form, and what a phone reads from the code is that same text; the customer e-mails
//! it, and `airseal activate`, `install` and `deactivate` take it as it arrives (quoted,
//! CRLF), like a file.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use airseal_core::armor::{QR_PREFIX, dearmor};

mod common;
use common::{airseal, init_vendor, ok};

/// The one `AIRSEAL:` line printed under a terminal QR code.
fn qr_line(stdout: &str) -> String {
    let lines: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with(QR_PREFIX))
        .collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    lines[0].to_string()
}

/// How the text comes back from a customer: quoted in a reply, with CRLF line endings.
fn e_mailed(text: &str) -> String {
    format!("Hello,\r\n\r\nthis is what my phone read:\r\n\r\n> {text}\r\n\r\nRegards,\r\nAlex\r\n")
}

/// A vendor folder (product `photo-pro`, 2 seats per key) that is also the machine's
/// working folder (its data in `data/`); returns the folder and one product key.
fn vendor() -> (tempfile::TempDir, String) {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    init_vendor(
        d,
        "\n[products.photo-pro]\nactivation_template = \"pro\"\n\
         [products.photo-pro.templates.pro]\nkind = \"subscription\"\ndays = 365\n\
         max_activations = 2\nmax_deactivations = 1\n",
    );
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
    let key = csv.lines().nth(1).unwrap().split(',').next().unwrap();
    (tmp, key.to_string())
}

const MACHINE: [&str; 5] = [
    "--no-system-components",
    "--component",
    "machine-id=m-a",
    "--component",
    "hostname=host-a",
];

#[test]
fn a_request_e_mailed_as_its_qr_text_is_activated_installed_and_released() {
    let (tmp, key) = vendor();
    let d = tmp.path();

    // The machine: a request, shown as a QR code with its text under it.
    let mut args = vec![
        "request",
        "--product",
        "photo-pro",
        "--key",
        &key,
        "--data-dir",
        "data",
        "--out",
        "request.txt",
        "--qr",
    ];
    args.extend(MACHINE);
    let out = ok(&airseal(d, &args));
    assert!(out.contains('█'), "a QR code in the terminal");
    let request = qr_line(&out);
    let file = std::fs::read(d.join("request.txt")).unwrap();
    assert_eq!(
        dearmor(request.as_bytes()).unwrap(),
        dearmor(&file).unwrap(),
        "the QR text is the request"
    );
    std::fs::write(d.join("request-mail.txt"), e_mailed(&request)).unwrap();

    // The vendor answers the e-mail as it arrived, again with a QR code.
    let out = ok(&airseal(
        d,
        &[
            "activate",
            "request-mail.txt",
            "--out",
            "response.txt",
            "--qr",
        ],
    ));
    let response = qr_line(&out);
    assert_eq!(
        dearmor(response.as_bytes()).unwrap(),
        dearmor(&std::fs::read(d.join("response.txt")).unwrap()).unwrap()
    );
    std::fs::write(d.join("response-qr.txt"), format!("{response}\n")).unwrap();

    // The machine installs what the phone read from the vendor's screen.
    let out = ok(&airseal(
        d,
        &[
            "install",
            "response-qr.txt",
            "--public-key",
            "keys/signing.pub",
            "--data-dir",
            "data",
        ],
    ));
    assert!(out.contains("INSTALLED"), "{out}");
    let mut args = vec![
        "verify",
        "--machine",
        "--product",
        "photo-pro",
        "--public-key",
        "keys/signing.pub",
        "--data-dir",
        "data",
    ];
    args.extend(MACHINE);
    ok(&airseal(d, &args));

    // Released with a QR code; the vendor takes the proof's text and frees the seat.
    let out = ok(&airseal(d, &["release", "--data-dir", "data", "--qr"]));
    let proof = qr_line(&out);
    std::fs::write(d.join("proof-mail.txt"), e_mailed(&proof)).unwrap();
    ok(&airseal(d, &["deactivate", "proof-mail.txt"]));

    // Damage on the way is refused as malformed (exit 10), pointing at the character.
    let damaged = request.replacen(QR_PREFIX, &format!("{QR_PREFIX}a"), 1);
    std::fs::write(d.join("damaged.txt"), damaged).unwrap();
    let o = airseal(d, &["activate", "damaged.txt", "--out", "x.txt"]);
    assert_eq!(o.status.code(), Some(10));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("lower-case"), "{err}");
    assert!(!d.join("x.txt").exists());
}
