//! Seats that hold and terms that end (`SPEC.md` §17.1–§17.2), through the binary: a seat
//! belongs to a machine, a subscription's term is anchored, duplicate components buy
//! nothing, and a vendor release of an activation that does not exist says so.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use airseal_core::LicenseClaims;
use airseal_core::activation::{ActivationRequest, Purpose};
use airseal_core::armor::{armor, dearmor};
use airseal_core::cose::{ObjectType, parse_sign1};
use airseal_vendor::issue::Issuer;
use ed25519_dalek::SigningKey;
use serde_json::Value;

mod common;
use common::{airseal, exits, init_vendor, ok, stderr};

/// A vendor folder whose product `p` has `templates` (TOML under `[products.p]`, with
/// `activation_template = "t"` and `trial_template = "trial"` set by the caller as needed),
/// and one generated key; returns the folder and the key.
fn vendor(templates: &str) -> (tempfile::TempDir, String) {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    init_vendor(d, &format!("\n[products.p]\n{templates}"));
    ok(&airseal(
        d,
        &[
            "keys",
            "generate",
            "--product",
            "p",
            "--count",
            "1",
            "--out",
            "k.csv",
        ],
    ));
    let key = std::fs::read_to_string(d.join("k.csv"))
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .to_string();
    (tmp, key)
}

/// Writes an armored request signed by device `seed` for `key` (a trial if `None`), with
/// these component hashes.
fn request(dir: &Path, name: &str, seed: u8, key: Option<&str>, components: &[u8], nonce: u8) {
    let device = Issuer::new(SigningKey::from_bytes(&[seed; 32]));
    let r = ActivationRequest {
        product: "p".into(),
        product_key: key.map(str::to_string),
        components: components.iter().map(|c| [*c; 8]).collect(),
        device_key: device.public_key(),
        nonce: [nonce; 16],
        created: 1_780_000_000,
        app_version: None,
        purpose: if key.is_some() {
            Purpose::Activation
        } else {
            Purpose::Trial
        },
        meters: vec![],
    };
    let bytes = device.sign(ObjectType::ActivationRequest, &r.encode());
    std::fs::write(
        dir.join(name),
        armor(ObjectType::ActivationRequest.armor_label(), &bytes),
    )
    .unwrap();
}

fn claims_of(response: &[u8]) -> LicenseClaims {
    let raw = dearmor(response).unwrap().into_owned();
    let s = parse_sign1(&raw).unwrap();
    LicenseClaims::decode(s.payload, s.payload_offset).unwrap()
}

/// `airseal activate REQ --out RESP --json --now NOW`: the summary, or the refusal.
fn activate(dir: &Path, req: &str, now: &str) -> Result<Value, String> {
    let resp = format!("{req}.resp");
    let o = airseal(
        dir,
        &[
            "activate", req, "--out", &resp, "--json", "--force", "--now", now,
        ],
    );
    if o.status.code() == Some(0) {
        Ok(serde_json::from_slice(&o.stdout).unwrap())
    } else {
        Err(stderr(&o))
    }
}

fn expires_of(dir: &Path, req: &str) -> i64 {
    claims_of(&std::fs::read(dir.join(format!("{req}.resp"))).unwrap())
        .expires_at
        .unwrap()
}

/// Finding 13: releasing an activation the ledger never had names the id, as a refusal of
/// its own, in text and in JSON mode, and never blames the ledger's data.
#[test]
fn releasing_an_activation_that_does_not_exist_says_so() {
    let (tmp, _) = vendor("");
    let d = tmp.path();
    for json in [false, true] {
        let mut args = vec!["deactivate", "--activation", "999", "--reason", "lost"];
        if json {
            args.push("--json");
        }
        let o = airseal(d, &args);
        exits(&o, 1);
        let err = stderr(&o);
        assert!(err.contains("no activation 999"), "{err}");
        assert!(!err.contains("unreadable"), "{err}");
    }
}

/// Finding 2: a subscription's term is anchored at the key's first activation. Moving to
/// another machine after a release keeps the same end; a new seat after the end is refused,
/// naming the date.
#[test]
fn moving_a_subscription_never_restarts_its_term() {
    let (tmp, key) = vendor(
        "activation_template = \"t\"\n[products.p.templates.t]\nkind = \"subscription\"\n\
         days = 30\nmax_activations = 1\nmax_deactivations = \"unlimited\"\n",
    );
    let d = tmp.path();
    request(d, "a.req", 1, Some(&key), &[1, 2, 3], 1);
    let a = activate(d, "a.req", "2027-01-01T00:00:00Z").unwrap();
    let end = expires_of(d, "a.req");
    assert_eq!(end, 1_798_761_600 + 30 * 86_400);
    let mut seat = a["activation"].as_i64().unwrap().to_string();
    for (n, (release_at, now)) in [
        ("2027-01-29T00:00:00Z", "2027-01-30T00:00:00Z"),
        ("2027-01-30T01:00:00Z", "2027-01-30T12:00:00Z"),
    ]
    .into_iter()
    .enumerate()
    {
        ok(&airseal(
            d,
            &[
                "deactivate",
                "--activation",
                &seat,
                "--reason",
                "moved",
                "--now",
                release_at,
            ],
        ));
        let seed = 10 + u8::try_from(n).unwrap();
        let req = format!("m{seed}.req");
        request(
            d,
            &req,
            seed,
            Some(&key),
            &[seed, seed + 20, seed + 40],
            seed,
        );
        let moved = activate(d, &req, now).unwrap();
        assert_eq!(moved["result"], "activated");
        assert_eq!(expires_of(d, &req), end, "moved at {now}");
        seat = moved["activation"].as_i64().unwrap().to_string();
    }
    ok(&airseal(
        d,
        &[
            "deactivate",
            "--activation",
            &seat,
            "--reason",
            "moved",
            "--now",
            "2027-04-30T00:00:00Z",
        ],
    ));
    request(d, "late.req", 30, Some(&key), &[30, 31, 32], 30);
    let err = activate(d, "late.req", "2027-05-01T00:00:00Z").unwrap_err();
    assert!(err.contains("term of key"), "{err}");
    assert!(err.contains("ended at 2027-01-31"), "{err}");
    assert!(
        err.contains("airseal keys update") && err.contains("--extend DAYS"),
        "{err}"
    );
    // An explicit extension moves the end, counted from the same start.
    ok(&airseal(d, &["keys", "update", &key, "--extend", "120"]));
    activate(d, "late.req", "2027-05-01T00:00:00Z").unwrap();
    assert_eq!(expires_of(d, "late.req"), end + 120 * 86_400);
}

/// Finding 4: a device key copied to another machine (no component in common) does not
/// ride on the first machine's seat: it takes a free seat, or is refused when none is left,
/// and the first seat keeps its own components.
#[test]
fn a_copied_device_key_gets_no_seat_for_free() {
    let (tmp, key) =
        vendor("activation_template = \"t\"\n[products.p.templates.t]\nmax_activations = 2\n");
    let d = tmp.path();
    let now = "2027-01-01T00:00:00Z";
    request(d, "m1.req", 1, Some(&key), &[1, 2, 3], 1);
    let first = activate(d, "m1.req", now).unwrap();
    assert_eq!(first["seats"]["used"], 1);
    // Machine 1 asking again, one component changed: its own seat.
    request(d, "m1b.req", 1, Some(&key), &[1, 2, 9], 2);
    let again = activate(d, "m1b.req", now).unwrap();
    assert_eq!(again["result"], "reissued");
    assert_eq!(again["activation"], first["activation"]);
    // Machine 4 with machine 1's device key and none of its components.
    request(d, "m4.req", 1, Some(&key), &[4, 5, 6], 3);
    let copied = activate(d, "m4.req", now).unwrap();
    assert_eq!(copied["result"], "activated");
    assert_ne!(copied["activation"], first["activation"]);
    assert_eq!(copied["seats"]["used"], 2);
    request(d, "m5.req", 1, Some(&key), &[7, 8, 10], 4);
    let err = activate(d, "m5.req", now).unwrap_err();
    assert!(err.contains("no seats left"), "{err}");
    assert!(err.contains("another machine"), "{err}");
    assert!(err.contains("--history"), "{err}");
    // The ledger lists both seats, the first with the components it was taken with.
    let out = ok(&airseal(d, &["ledger", "activations", "--json"]));
    let rows: Vec<Value> = serde_json::from_str(&out).unwrap();
    // Every request's components are kept: the first seat's two, the second seat's one.
    let history = ok(&airseal(
        d,
        &["ledger", "activations", "--history", "--format", "json"],
    ));
    let history: Vec<Value> = serde_json::from_str(&history).unwrap();
    let seen: Vec<(&Value, &Value, &Value)> = history
        .iter()
        .map(|h| (&h["activation"], &h["matched"], &h["components"][2]))
        .collect();
    assert_eq!(
        seen,
        [
            (
                &first["activation"],
                &Value::Null,
                &Value::from("0303030303030303")
            ),
            (
                &first["activation"],
                &Value::from(2),
                &Value::from("0909090909090909")
            ),
            (
                &copied["activation"],
                &Value::Null,
                &Value::from("0606060606060606")
            ),
        ],
        "{history:#?}"
    );
    let components: Vec<&Value> = rows.iter().map(|r| &r["components"]).collect();
    assert_eq!(
        components,
        [
            &serde_json::json!(["0101010101010101", "0202020202020202", "0303030303030303"]),
            &serde_json::json!(["0404040404040404", "0505050505050505", "0606060606060606"]),
        ]
    );
    assert_eq!(rows.len(), 2, "{out}");
}

/// Finding 15: a request repeating one component hash is malformed (exit 10); a template's
/// `min_components` refuses thinner requests; a new device key on a machine that had the
/// trial is refused.
#[test]
fn repeated_or_too_few_components_buy_no_trial() {
    let (tmp, _) = vendor(
        "trial_template = \"trial\"\n[products.p.templates.trial]\ndays = 14\n\
         min_components = 2\n",
    );
    let d = tmp.path();
    let now = "2027-01-01T00:00:00Z";
    request(d, "first.req", 1, None, &[1, 2], 1);
    activate(d, "first.req", now).unwrap();
    // [H, H] from a new device key: malformed, nothing recorded.
    request(d, "hh.req", 2, None, &[1, 1], 2);
    let o = airseal(d, &["activate", "hh.req", "--out", "hh.resp", "--now", now]);
    exits(&o, 10);
    assert!(stderr(&o).contains("distinct"), "{}", stderr(&o));
    // One component: below the template's minimum.
    request(d, "one.req", 3, None, &[9], 3);
    let err = activate(d, "one.req", now).unwrap_err();
    assert!(err.contains("min_components"), "{err}");
    // Sharing the earlier trial's threshold (2 of 2) with a new device key: already used.
    request(d, "again.req", 4, None, &[2, 1, 7], 4);
    let err = activate(d, "again.req", now).unwrap_err();
    assert!(err.contains("already used on this machine"), "{err}");
    assert!(!d.join("hh.resp").exists());
}

/// Finding 15, the app's side: a license whose machine binding lists one component twice
/// (the committed vector) is malformed for `airseal verify` (exit 10), naming the rule.
#[test]
fn a_license_binding_a_repeated_component_is_malformed() {
    let vectors = Path::new(env!("CARGO_MANIFEST_DIR")).join("../vectors");
    let file = vectors.join("licenses/claims-machine-duplicate-components.cose");
    let public = vectors.join("doc-example.pub");
    let o = airseal(
        &vectors,
        &[
            "verify",
            file.to_str().unwrap(),
            "--public-key",
            public.to_str().unwrap(),
            "--product",
            "photo-pro",
        ],
    );
    exits(&o, 10);
    let err = stderr(&o);
    assert!(err.contains("components must be distinct"), "{err}");
    assert!(err.contains("claims.airseal.machine"), "{err}");
}

/// A trial whose license would run on a machine that already had one is refused, even when
/// it asks with fewer components than that trial's threshold: one of machine A's
/// components, asked for alone (1 of 1 must match), is machine A. A request sharing
/// nothing with A still gets its trial.
#[test]
fn one_component_of_a_machine_that_had_the_trial_buys_no_second_one() {
    let (tmp, _) = vendor("trial_template = \"trial\"\n[products.p.templates.trial]\ndays = 14\n");
    let d = tmp.path();
    let now = "2027-01-01T00:00:00Z";
    request(d, "a.req", 1, None, &[1, 2, 3], 1);
    activate(d, "a.req", now).unwrap();
    for (i, component) in [1u8, 2, 3].into_iter().enumerate() {
        let name = format!("alone-{i}.req");
        let seed = 10 + u8::try_from(i).unwrap();
        request(d, &name, seed, None, &[component], seed);
        let err = activate(d, &name, now).unwrap_err();
        assert!(err.contains("already used on this machine"), "{err}");
    }
    request(d, "other.req", 20, None, &[7, 8, 9], 20);
    activate(d, "other.req", now).unwrap();
}
