//! The whole air-gap round trip through the `airseal` binary only, as a vendor and two
//! customers' machines would run it: request → activate → install → verify → release →
//! deactivate → the seat is free → activate on another machine. Machines are simulated with
//! `--no-system-components` and explicit components, so the test never depends on the host.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output};

fn airseal(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_airseal"))
        .current_dir(dir)
        .args(args)
        .env("AIRSEAL_PASSPHRASE", "round trip passphrase")
        .env_remove("AIRSEAL_VENDOR")
        .env_remove("AIRSEAL_DATA_DIR")
        .env_remove("XDG_DATA_HOME")
        .output()
        .unwrap()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[track_caller]
fn ok(o: &Output) -> String {
    assert_eq!(code(o), 0, "{}", text(o));
    text(o)
}

/// Runs `airseal ARGS` on a simulated machine: its data folder and its components.
fn on(dir: &Path, machine: &Machine, args: &[&str]) -> Output {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--data-dir", machine.data, "--no-system-components"]);
    for c in &machine.components {
        all.extend(["--component", c]);
    }
    airseal(dir, &all)
}

struct Machine {
    data: &'static str,
    components: Vec<String>,
}

fn machine(data: &'static str, id: &str, mac: &str, disk: &str) -> Machine {
    Machine {
        data,
        components: vec![
            format!("machine-id={id}"),
            format!("mac={mac}"),
            format!("root-disk={disk}"),
        ],
    }
}

fn verify(dir: &Path, m: &Machine) -> Output {
    on(
        dir,
        m,
        &[
            "verify",
            "--machine",
            "--product",
            "photo-pro",
            "--public-key",
            "keys/signing.pub",
        ],
    )
}

fn request(dir: &Path, m: &Machine, key: &str, out: &str) {
    ok(&on(
        dir,
        m,
        &[
            "request",
            "--product",
            "photo-pro",
            "--key",
            key,
            "--out",
            out,
        ],
    ));
}

fn install(dir: &Path, m: &Machine, response: &str) -> Output {
    airseal(
        dir,
        &[
            "install",
            response,
            "--public-key",
            "keys/signing.pub",
            "--data-dir",
            m.data,
        ],
    )
}

#[test]
fn request_activate_install_verify_release_deactivate_and_move_the_seat() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // The vendor: a folder, one product whose keys have one seat each, one key.
    ok(&airseal(d, &["init", "--vendor-id", "acme"]));
    let mut cfg = std::fs::read_to_string(d.join("airseal.toml")).unwrap();
    cfg.push_str(
        "\n[products.photo-pro]\nactivation_template = \"pro\"\n\
         [products.photo-pro.templates.pro]\nkind = \"subscription\"\ndays = 365\n\
         max_activations = 1\nmax_deactivations = 3\n",
    );
    std::fs::write(d.join("airseal.toml"), cfg).unwrap();
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
            "keys.csv",
        ],
    ));
    let csv = std::fs::read_to_string(d.join("keys.csv")).unwrap();
    let key = csv.lines().nth(1).unwrap().split(',').next().unwrap();

    let a = machine("machine-a", "a1", "aa:aa:aa:aa:aa:01", "disk-a");
    let b = machine("machine-b", "b1", "bb:bb:bb:bb:bb:02", "disk-b");

    // Machine A asks; the vendor answers; A installs and verifies.
    request(d, &a, key, "a.req");
    assert!(
        std::fs::read_to_string(d.join("a.req"))
            .unwrap()
            .starts_with("-----BEGIN AIRSEAL ACTIVATION REQUEST-----")
    );
    let said = ok(&airseal(d, &["activate", "a.req", "--out", "a.resp"]));
    assert!(said.contains("1 of 1"), "{said}");
    ok(&install(d, &a, "a.resp"));
    ok(&verify(d, &a));

    // One component replaced (a new network card): 2 of 3 still match.
    let mut a_new_nic = machine("machine-a", "a1", "aa:aa:aa:aa:aa:99", "disk-a");
    a_new_nic.data = a.data;
    ok(&verify(d, &a_new_nic));
    // A's license copied to machine B's components does not verify there.
    let a_on_b = Machine {
        data: a.data,
        components: b.components.clone(),
    };
    assert_eq!(code(&verify(d, &a_on_b)), 18, "wrong machine");

    // Installing the same response again (a replay) is refused: nothing is pending, and as
    // an update of the installed license it is not newer (SPEC.md §15.8).
    let replay = install(d, &a, "a.resp");
    assert_eq!(code(&replay), 30, "{}", text(&replay));

    // Machine B asks for the same key: no seat left, and the refusal changes nothing.
    request(d, &b, key, "b.req");
    let refused = airseal(d, &["activate", "b.req", "--out", "b.resp"]);
    assert_ne!(code(&refused), 0);
    assert!(text(&refused).contains("1 of 1"), "{}", text(&refused));
    assert!(!d.join("b.resp").exists());
    // A's response does not install on B (it answers A's request, for A's device key).
    assert_ne!(code(&install(d, &b, "a.resp")), 0);

    // Asking again from A is idempotent: the same seat, a fresh response.
    request(d, &a, key, "a2.req");
    ok(&airseal(d, &["activate", "a2.req", "--out", "a2.resp"]));
    ok(&install(d, &a, "a2.resp"));
    ok(&verify(d, &a));

    // A gives the seat back: a signed proof, and the license is gone from A.
    ok(&airseal(
        d,
        &["release", "--data-dir", a.data, "--out", "a.proof"],
    ));
    assert_ne!(code(&verify(d, &a)), 0, "the license was deleted");
    ok(&airseal(d, &["deactivate", "a.proof"]));
    // The same proof again is a replay.
    let again = airseal(d, &["deactivate", "a.proof"]);
    assert_ne!(code(&again), 0);
    assert!(text(&again).contains("already"), "{}", text(&again));

    // The seat is free: B's request (made before) now succeeds, installs and verifies.
    ok(&airseal(d, &["activate", "b.req", "--out", "b.resp"]));
    ok(&install(d, &b, "b.resp"));
    ok(&verify(d, &b));

    // The ledger tells the story.
    let listing = ok(&airseal(
        d,
        &[
            "ledger",
            "activations",
            "--product",
            "photo-pro",
            "--format",
            "json",
        ],
    ));
    let rows: serde_json::Value = serde_json::from_str(listing.trim()).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2, "{listing}");
}

#[test]
fn an_imported_key_typed_another_way_activates_and_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // A vendor who moved from Cryptlex: its keys keep their terms and their exact text.
    ok(&airseal(d, &["init", "--vendor-id", "acme"]));
    let mut cfg = std::fs::read_to_string(d.join("airseal.toml")).unwrap();
    cfg.push_str("\n[products.photo-pro]\n");
    std::fs::write(d.join("airseal.toml"), cfg).unwrap();
    let export = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/airseal-vendor/tests/fixtures/import/cryptlex-v2-typed.csv");
    let imported = airseal(
        d,
        &[
            "import",
            "--from",
            "cryptlex-v2",
            export.to_str().unwrap(),
            "--product",
            "photo-pro",
        ],
    );
    // Five rows; `ABCD1234-EF56` is `ABCD-1234-EF56` spelt another way: a duplicate (exit 4).
    assert_eq!(code(&imported), 4, "{}", text(&imported));
    assert!(
        text(&imported).contains("1 duplicate"),
        "{}",
        text(&imported)
    );

    // The customer types the key lower case with spaces; the vendor finds the stored key.
    let a = machine("machine-a", "a1", "aa:aa:aa:aa:aa:01", "disk-a");
    request(d, &a, " 8f3a1c 6b2d9e 04c7f1 a95b3d ", "a.req");
    let said = ok(&airseal(d, &["activate", "a.req", "--out", "a.resp"]));
    // Total Activations 3, of which 1 was used on Cryptlex.
    assert!(said.contains("2 of 3"), "{said}");
    ok(&install(d, &a, "a.resp"));
    let verified = ok(&verify(d, &a));
    assert!(
        verified.contains("8F3A1C-6B2D9E-04C7F1-A95B3D"),
        "the license names the key as stored: {verified}"
    );

    // The export's twin spelling was one key: typed loosely, it is that key.
    let b = machine("machine-b", "b1", "bb:bb:bb:bb:bb:02", "disk-b");
    request(d, &b, "abcd1234ef56", "b.req");
    ok(&airseal(d, &["activate", "b.req", "--out", "b.resp"]));
    ok(&install(d, &b, "b.resp"));
    let verified = ok(&verify(d, &b));
    assert!(verified.contains("ABCD-1234-EF56"), "{verified}");
}
