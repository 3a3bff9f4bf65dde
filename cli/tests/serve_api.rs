//! `airseal serve`'s portal API through the real binary, over HTTP on loopback: a request
//! made by `airseal request` activated over HTTP, installed and verified; idempotent
//! re-posting; the seat limit and its error name (the CLI's); deactivation; malformed,
//! oversized and rate-limited requests; the root key refused; and 50 concurrent
//! activations racing for 3 seats.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use airseal_core::activation::{ActivationRequest, Purpose};
use airseal_core::armor::{armor, dearmor};
use airseal_core::cose::{ObjectType, parse_sign1};
use airseal_vendor::issue::Issuer;
use airseal_vendor::ledger::{ActivationFilter, Ledger};
use ed25519_dalek::SigningKey;
use serde_json::Value;

mod common;
use common::{ISSUING_PASSPHRASE, PASSPHRASE, airseal, exits, init_vendor, ok, stderr};

/// A running `airseal serve`, killed when dropped.
struct Service {
    child: Child,
    base: String,
    agent: ureq::Agent,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What an HTTP exchange gave back.
struct Answer {
    status: u16,
    content_type: String,
    retry_after: Option<String>,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Asserts a problem document with `status` and `error`; the document.
    #[track_caller]
    fn problem(&self, status: u16, error: &str) -> Value {
        assert_eq!(self.status, status, "{}", self.text());
        assert_eq!(self.content_type, "application/problem+json");
        let p = self.json();
        assert_eq!(p["error"], error, "{p}");
        assert_eq!(p["status"], status);
        assert_eq!(
            p["type"],
            format!("https://airseal.invalid/problems/{error}")
        );
        p
    }
}

impl Service {
    /// `airseal serve --vendor DIR --listen 127.0.0.1:0 ARGS`, once it prints its address.
    fn start(dir: &Path, args: &[&str]) -> Self {
        Self::start_with(dir, args, true)
    }

    /// [`Service::start`], with the passphrase variables set or not.
    fn start_with(dir: &Path, args: &[&str], passphrase_env: bool) -> Self {
        let log = std::fs::File::create(dir.join("serve.log")).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_airseal"));
        cmd.current_dir(dir)
            .args(["serve", "--vendor", ".", "--listen", "127.0.0.1:0"])
            .args(args)
            .env_remove("AIRSEAL_PASSPHRASE")
            .env_remove("AIRSEAL_ISSUING_PASSPHRASE")
            .env_remove("AIRSEAL_VENDOR");
        if passphrase_env {
            cmd.env("AIRSEAL_PASSPHRASE", PASSPHRASE)
                .env("AIRSEAL_ISSUING_PASSPHRASE", ISSUING_PASSPHRASE);
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| {
                let log = std::fs::read_to_string(dir.join("serve.log")).unwrap_or_default();
                panic!("no address line: {line:?}; log: {log}")
            })
            .to_string();
        assert!(base.starts_with("http://127.0.0.1:"), "{base}");
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        Self { child, base, agent }
    }

    fn answer(mut r: ureq::http::Response<ureq::Body>) -> Answer {
        let header = |name: &str| {
            r.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let content_type = header("content-type").unwrap_or_default();
        let retry_after = header("retry-after");
        Answer {
            status: r.status().as_u16(),
            content_type,
            retry_after,
            body: r.body_mut().read_to_vec().unwrap(),
        }
    }

    fn post(&self, path: &str, accept: &str, body: &[u8]) -> Answer {
        let r = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("accept", accept)
            .send(body)
            .unwrap();
        Self::answer(r)
    }

    fn get(&self, path: &str) -> Answer {
        let r = self
            .agent
            .get(format!("{}{path}", self.base))
            .call()
            .unwrap();
        Self::answer(r)
    }
}

/// A vendor folder with product `photo-pro` (`seats` seats a key, 1 deactivation), `keys`
/// keys and an issuing key in `issuing/s1`; the folder and the keys.
fn vendor(seats: u32, keys: usize) -> (tempfile::TempDir, Vec<String>) {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    init_vendor(
        d,
        &format!(
            "\n[products.photo-pro]\nactivation_template = \"pro\"\n\
             [products.photo-pro.templates.pro]\nkind = \"subscription\"\ndays = 365\n\
             max_activations = {seats}\nmax_deactivations = 1\n"
        ),
    );
    let count = keys.to_string();
    ok(&airseal(
        d,
        &[
            "keys",
            "generate",
            "--product",
            "photo-pro",
            "--count",
            &count,
            "--out",
            "k.csv",
        ],
    ));
    ok(&airseal(
        d,
        &[
            "issuing-key",
            "create",
            "--out",
            "issuing/s1",
            "--days",
            "30",
        ],
    ));
    let keys = std::fs::read_to_string(d.join("k.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().to_string())
        .collect();
    (tmp, keys)
}

/// The issuing key's flags, and no rate limits (tests that are not about them).
const ISSUING: [&str; 6] = [
    "--issuing-key",
    "issuing/s1",
    "--client-rate",
    "0",
    "--key-rate",
    "0",
];

/// An armored activation request for `key` from simulated device `seed`.
fn crafted_request(seed: u8, key: &str) -> Vec<u8> {
    let device = Issuer::new(SigningKey::from_bytes(&[seed; 32]));
    let mut r = ActivationRequest {
        product: "photo-pro".into(),
        product_key: Some(key.to_string()),
        components: vec![[seed; 8], [seed ^ 0x55; 8], [seed ^ 0xaa; 8]],
        device_key: device.public_key(),
        nonce: [seed; 16],
        created: 1_780_000_000,
        app_version: None,
        purpose: Purpose::Activation,
        meters: vec![],
    };
    r.normalize();
    let bytes = device.sign(ObjectType::ActivationRequest, &r.encode());
    armor(ObjectType::ActivationRequest.armor_label(), &bytes).into_bytes()
}

fn live_seats(dir: &Path) -> usize {
    Ledger::open(&dir.join("ledger.sqlite3"))
        .unwrap()
        .seats()
        .list(&ActivationFilter {
            live_only: true,
            ..Default::default()
        })
        .unwrap()
        .len()
}

/// A simulated machine's flags (data folder `name`, two components of its own).
fn machine(name: &str) -> Vec<String> {
    [
        "--data-dir",
        name,
        "--no-system-components",
        "--component",
        &format!("machine-id={name}"),
        "--component",
        &format!("root-disk=disk-{name}"),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn run(dir: &Path, base: &[&str], more: &[String]) -> std::process::Output {
    let mut args: Vec<&str> = base.to_vec();
    args.extend(more.iter().map(String::as_str));
    airseal(dir, &args)
}

/// The flow a customer goes through, every step but the HTTP one by the real binary:
/// `airseal request` → `POST /v1/activations` → `airseal install` → `airseal verify
/// --machine`; the same request again is answered on the same seat; `airseal release` →
/// `POST /v1/deactivations` frees it.
#[test]
fn a_real_request_activates_over_http_installs_and_verifies() {
    let (tmp, keys) = vendor(2, 1);
    let d = tmp.path();
    let service = Service::start(d, &ISSUING);
    let m = machine("machine-a");
    ok(&run(
        d,
        &[
            "request",
            "--product",
            "photo-pro",
            "--key",
            &keys[0],
            "--out",
            "request.txt",
        ],
        &m,
    ));
    let request = std::fs::read(d.join("request.txt")).unwrap();

    let a = service.post("/v1/activations", "text/plain", &request);
    assert_eq!(a.status, 201, "{}", a.text());
    assert!(
        a.content_type.starts_with("text/plain"),
        "{}",
        a.content_type
    );
    assert!(
        a.text()
            .starts_with("-----BEGIN AIRSEAL ACTIVATION RESPONSE-----")
    );
    std::fs::write(d.join("response.txt"), &a.body).unwrap();
    ok(&airseal(
        d,
        &[
            "install",
            "response.txt",
            "--public-key",
            "keys/signing.pub",
            "--data-dir",
            "machine-a",
        ],
    ));
    let o = run(
        d,
        &[
            "verify",
            "--machine",
            "--product",
            "photo-pro",
            "--public-key",
            "keys/signing.pub",
            "--json",
        ],
        &m,
    );
    let verdict: Value = serde_json::from_str(&ok(&o)).unwrap();
    assert_eq!(verdict["valid"], true, "{verdict}");
    assert_eq!(live_seats(d), 1);

    // The same request again (a lost response): the same seat, the same license, 200.
    let again = service.post("/v1/activations", "application/json", &request);
    assert_eq!(again.status, 200, "{}", again.text());
    let summary = again.json();
    assert_eq!(summary["result"], "reissued");
    assert_eq!(summary["seats"]["used"], 1);
    assert_eq!(summary["seats"]["limit"], 2);
    assert_eq!(summary["license_id"], verdict["claims"]["sub"], "{verdict}");
    assert!(
        summary["response"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN AIRSEAL ACTIVATION RESPONSE-----")
    );
    assert!(summary["qr"].as_str().unwrap().starts_with("AIRSEAL:"));
    assert_eq!(live_seats(d), 1);

    // The raw bytes with Accept: application/cose.
    let raw = service.post("/v1/activations", "application/cose", &request);
    assert_eq!(raw.status, 200);
    assert_eq!(raw.content_type, "application/cose");
    let sign1 = parse_sign1(&raw.body).unwrap();
    assert_eq!(sign1.header.typ, ObjectType::ActivationResponse.typ());

    // Released on the machine; the proof over HTTP frees the seat.
    ok(&airseal(
        d,
        &["release", "--data-dir", "machine-a", "--out", "proof.txt"],
    ));
    let proof = std::fs::read(d.join("proof.txt")).unwrap();
    let freed = service.post("/v1/deactivations", "application/json", &proof);
    assert_eq!(freed.status, 200, "{}", freed.text());
    let freed = freed.json();
    assert_eq!(freed["result"], "deactivated");
    assert_eq!(freed["seats"]["used"], 0);
    assert_eq!(live_seats(d), 0);
    // The same proof twice: a conflict, named as the CLI names it.
    let replay = service.post("/v1/deactivations", "application/json", &proof);
    let p = replay.problem(409, "proof_replayed");
    let o = airseal(d, &["deactivate", "proof.txt", "--json"]);
    let cli: Value = serde_json::from_str(&exits(&o, 1)).unwrap();
    assert_eq!(cli["error"], p["error"]);
    assert_eq!(cli["code"], p["code"]);
}

/// A key whose seats are taken: 409 with the name and code `airseal activate --json` gives
/// for the same refusal; a deactivation frees the seat for the next machine.
#[test]
fn the_seat_limit_is_the_clis_refusal() {
    let (tmp, keys) = vendor(1, 1);
    let d = tmp.path();
    let service = Service::start(d, &ISSUING);
    let first = service.post("/v1/activations", "*/*", &crafted_request(1, &keys[0]));
    assert_eq!(first.status, 201, "{}", first.text());
    let second = crafted_request(2, &keys[0]);
    let refused = service.post("/v1/activations", "application/json", &second);
    let p = refused.problem(409, "no_seats_left");
    assert!(
        p["detail"].as_str().unwrap().contains("no seats left"),
        "{p}"
    );

    std::fs::write(d.join("second.req"), &second).unwrap();
    let o = airseal(
        d,
        &[
            "activate",
            "second.req",
            "--out",
            "second.resp",
            "--json",
            "--issuing-key",
            "issuing/s1",
        ],
    );
    let code = o.status.code().unwrap();
    let cli: Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&o)));
    assert_eq!(cli["result"], "refused");
    assert_eq!(cli["error"], p["error"]);
    assert_eq!(cli["code"], p["code"]);
    assert_eq!(i64::from(code), p["code"].as_i64().unwrap());
    assert_eq!(live_seats(d), 1);
}

/// Bodies that are not requests: 400 (the verifier's `malformed`, code 10, as `airseal
/// activate` exits), and a body over 64 KiB: 413. Neither changes the ledger.
#[test]
fn malformed_and_oversized_bodies_are_problems() {
    let (tmp, _) = vendor(1, 1);
    let d = tmp.path();
    let service = Service::start(d, &ISSUING);
    let bad = service.post("/v1/activations", "text/plain", b"hello, vendor");
    let p = bad.problem(400, "malformed");
    assert_eq!(p["code"], 10);
    std::fs::write(d.join("bad.req"), b"hello, vendor").unwrap();
    let o = airseal(d, &["activate", "bad.req", "--issuing-key", "issuing/s1"]);
    exits(&o, 10);

    let big = vec![b'A'; 64 * 1024 + 1];
    let p = service
        .post("/v1/activations", "text/plain", &big)
        .problem(413, "too_large");
    assert_eq!(p["code"], 10);
    let p = service
        .post("/v1/deactivations", "text/plain", &big)
        .problem(413, "too_large");
    assert_eq!(p["code"], 10);
    service
        .post("/v1/deactivations", "text/plain", b"")
        .problem(400, "malformed");
    // Unknown routes and methods are problems too, never empty bodies.
    service.get("/v1/nothing-here").problem(404, "not_found");
    service
        .get("/v1/activations")
        .problem(405, "method_not_allowed");
    assert_eq!(live_seats(d), 0);
}

/// The token buckets: per client address, then per product key; 429 with Retry-After.
#[test]
fn rate_limits_answer_429_with_retry_after() {
    let (tmp, keys) = vendor(5, 1);
    let d = tmp.path();
    {
        // 2 a minute, bursts of 1: the second request at once is over the limit.
        let service = Service::start(
            d,
            &[
                "--issuing-key",
                "issuing/s1",
                "--client-rate",
                "2",
                "--key-rate",
                "0",
            ],
        );
        let first = service.post("/v1/activations", "text/plain", b"x");
        first.problem(400, "malformed");
        let limited = service.post("/v1/activations", "text/plain", b"x");
        limited.problem(429, "rate_limited");
        let wait: u64 = limited.retry_after.as_deref().unwrap().parse().unwrap();
        assert!((1..=60).contains(&wait), "{wait}");
        service.get("/v1/keys/public").problem(429, "rate_limited");
    }
    // Per key: two machines asking for the same key at once.
    let service = Service::start(
        d,
        &[
            "--issuing-key",
            "issuing/s1",
            "--client-rate",
            "0",
            "--key-rate",
            "2",
        ],
    );
    let first = service.post(
        "/v1/activations",
        "text/plain",
        &crafted_request(1, &keys[0]),
    );
    assert_eq!(first.status, 201, "{}", first.text());
    let limited = service.post(
        "/v1/activations",
        "text/plain",
        &crafted_request(2, &keys[0]),
    );
    let p = limited.problem(429, "rate_limited");
    assert!(p["detail"].as_str().unwrap().contains("product key"), "{p}");
    assert!(limited.retry_after.is_some());
    assert_eq!(live_seats(d), 1);
}

/// The root key stays offline: `airseal serve` refuses it (before asking for a passphrase)
/// unless --allow-root-key is given.
#[test]
fn the_root_key_is_refused_without_allow_root_key() {
    let (tmp, _) = vendor(1, 1);
    let d = tmp.path();
    let o = Command::new(env!("CARGO_BIN_EXE_airseal"))
        .current_dir(d)
        .args(["serve", "--vendor", ".", "--listen", "127.0.0.1:0"])
        .env_remove("AIRSEAL_PASSPHRASE")
        .env_remove("AIRSEAL_ISSUING_PASSPHRASE")
        .env_remove("AIRSEAL_VENDOR")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    let err = stderr(&o);
    assert!(
        err.contains("root key")
            && err.contains("--allow-root-key")
            && err.contains("--issuing-key"),
        "{err}"
    );
    assert!(!err.contains("passphrase"), "{err}");

    // Allowed: it starts, and signs with the root.
    let service = Service::start(d, &["--allow-root-key"]);
    let keys = service.get("/v1/keys/public");
    assert_eq!(keys.status, 200);
}

/// `GET /v1/keys/public` and `GET /v1/revocations`: the root key as `keys/signing.pub`
/// holds it, the issuing key's certificate; no list until one is exported, then that list.
#[test]
fn public_keys_and_the_latest_revocation_list() {
    let (tmp, _) = vendor(1, 1);
    let d = tmp.path();
    let service = Service::start(d, &ISSUING);
    let keys = service.get("/v1/keys/public");
    assert_eq!(keys.status, 200, "{}", keys.text());
    let keys = keys.json();
    let root = std::fs::read_to_string(d.join("keys/signing.pub")).unwrap();
    assert_eq!(
        keys["root"]["public_key"].as_str().unwrap().trim(),
        root.trim()
    );
    let listed = ok(&airseal(d, &["issuing-key", "list", "--json"]));
    let listed: Value = serde_json::from_str(&listed).unwrap();
    let certs = keys["issuing_certificates"].as_array().unwrap();
    assert_eq!(certs.len(), 1, "{keys}");
    assert!(
        listed
            .to_string()
            .contains(certs[0]["key_id"].as_str().unwrap())
    );
    assert!(
        certs[0]["certificate"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN AIRSEAL")
    );

    service
        .get("/v1/revocations")
        .problem(404, "no_revocation_list");
    ok(&airseal(d, &["revocations", "export", "--out", "list.txt"]));
    let list = service.get("/v1/revocations");
    assert_eq!(list.status, 200, "{}", list.text());
    let exported = std::fs::read(d.join("list.txt")).unwrap();
    assert_eq!(
        dearmor(&list.body).unwrap().into_owned(),
        dearmor(&exported).unwrap().into_owned()
    );
}

/// One SQLite service, 50 machines asking at once for a key with 3 seats: exactly 3 get
/// one, 47 the seat refusal, and the ledger holds 3 seats.
#[test]
fn fifty_concurrent_activations_take_exactly_three_seats() {
    let (tmp, keys) = vendor(3, 1);
    let d: PathBuf = tmp.path().to_path_buf();
    let service = Service::start(&d, &ISSUING);
    let bodies: Vec<Vec<u8>> = (0..50u8)
        .map(|i| crafted_request(i.wrapping_add(10), &keys[0]))
        .collect();
    let answers: Vec<Answer> = std::thread::scope(|s| {
        let handles: Vec<_> = bodies
            .iter()
            .map(|b| s.spawn(|| service.post("/v1/activations", "application/json", b)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let granted = answers.iter().filter(|a| a.status == 201).count();
    let refused: Vec<&Answer> = answers.iter().filter(|a| a.status == 409).collect();
    for a in &refused {
        a.problem(409, "no_seats_left");
    }
    assert_eq!(
        (granted, refused.len()),
        (3, 47),
        "{:?}",
        answers
            .iter()
            .filter(|a| a.status != 201 && a.status != 409)
            .map(Answer::text)
            .collect::<Vec<_>>()
    );
    assert_eq!(live_seats(&d), 3);
}

/// A service started by a script (no terminal) with no passphrase anywhere fails at once,
/// naming where a passphrase may come from, and never waits for a prompt.
#[test]
fn no_passphrase_and_no_terminal_fails_at_once() {
    let (tmp, _) = vendor(1, 1);
    let d = tmp.path();
    let started = std::time::Instant::now();
    let o = Command::new(env!("CARGO_BIN_EXE_airseal"))
        .current_dir(d)
        .args(["serve", "--vendor", ".", "--listen", "127.0.0.1:0"])
        .args(ISSUING)
        .env_remove("AIRSEAL_PASSPHRASE")
        .env_remove("AIRSEAL_ISSUING_PASSPHRASE")
        .env_remove("AIRSEAL_VENDOR")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    let err = stderr(&o);
    assert!(err.contains("--passphrase-file"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(30));

    // From a file: it starts.
    std::fs::write(d.join("pass.txt"), format!("{ISSUING_PASSPHRASE}\n")).unwrap();
    let mut args = ISSUING.to_vec();
    args.extend(["--passphrase-file", "pass.txt"]);
    let service = Service::start_with(d, &args, false);
    assert_eq!(service.get("/healthz").status, 200);
}

/// A ledger held by another process longer than its busy timeout: 503 with Retry-After and
/// the error name `busy`, nothing recorded; once free, the same request succeeds.
#[test]
fn a_busy_ledger_answers_503_with_retry_after() {
    let (tmp, keys) = vendor(1, 1);
    let d = tmp.path();
    let service = Service::start(d, &ISSUING);
    let body = crafted_request(1, &keys[0]);
    {
        let ledger = Ledger::open(&d.join("ledger.sqlite3")).unwrap();
        let seats = ledger.seats();
        let _held = seats.begin().unwrap();
        let busy = service.post("/v1/activations", "application/json", &body);
        let p = busy.problem(503, "busy");
        assert_eq!(p["code"], 1);
        assert_eq!(busy.retry_after.as_deref(), Some("1"));
    }
    assert_eq!(live_seats(d), 0);
    let a = service.post("/v1/activations", "application/json", &body);
    assert_eq!(a.status, 201, "{}", a.text());
}

/// Two services on one PostgreSQL ledger (as two instances behind a load balancer), 50
/// machines asking at once, alternately to each, for a key with 3 seats: exactly 3 get one,
/// 47 the seat refusal, and the shared ledger holds 3 seats.
#[test]
fn two_services_on_one_postgres_ledger_never_oversell() {
    let Some(base) = common::postgres_or_skip("two_services_on_one_postgres_ledger_never_oversell")
    else {
        return;
    };
    let db = common::TempDb::new(&base, "two_services");
    let (tmp, keys) = vendor(3, 1);
    let d: PathBuf = tmp.path().to_path_buf();
    ok(&airseal(&d, &["ledger", "migrate", "--to", &db.url]));
    let mut args = ISSUING.to_vec();
    args.extend(["--database", db.url.as_str()]);
    let services = [Service::start(&d, &args), Service::start(&d, &args)];
    let bodies: Vec<Vec<u8>> = (0..50u8)
        .map(|i| crafted_request(i.wrapping_add(10), &keys[0]))
        .collect();
    let answers: Vec<Answer> = std::thread::scope(|s| {
        let handles: Vec<_> = bodies
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let service = &services[i % 2];
                s.spawn(move || service.post("/v1/activations", "application/json", b))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let granted = answers.iter().filter(|a| a.status == 201).count();
    let refused: Vec<&Answer> = answers.iter().filter(|a| a.status == 409).collect();
    for a in &refused {
        a.problem(409, "no_seats_left");
    }
    assert_eq!(
        (granted, refused.len()),
        (3, 47),
        "{:?}",
        answers
            .iter()
            .filter(|a| a.status != 201 && a.status != 409)
            .map(Answer::text)
            .collect::<Vec<_>>()
    );
    let live = Ledger::open_url(&db.url)
        .unwrap()
        .seats()
        .list(&ActivationFilter {
            live_only: true,
            ..Default::default()
        })
        .unwrap()
        .len();
    assert_eq!(live, 3);
    // The folder's own SQLite ledger was not used.
    assert_eq!(live_seats(&d), 0);
}
