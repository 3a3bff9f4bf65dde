//! Operating `airseal serve`, through the real binary on loopback: liveness, readiness and
//! Prometheus metrics; request logs (text and JSON) that never hold a token, a request body
//! or a path's product key; HTTPS with a certificate made here; graceful shutdown on
//! SIGTERM with requests in flight; and a SIGKILL under load that leaves the ledger
//! consistent.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use airseal_core::activation::{ActivationRequest, Purpose};
use airseal_core::armor::armor;
use airseal_core::cose::ObjectType;
use airseal_vendor::issue::Issuer;
use airseal_vendor::ledger::{ActivationFilter, Ledger};
use ed25519_dalek::SigningKey;
use serde_json::Value;

mod common;
use common::{ISSUING_PASSPHRASE, PASSPHRASE, airseal, fails, init_vendor, ok};

/// A running `airseal serve`, killed when dropped.
struct Service {
    child: Child,
    base: String,
    log: PathBuf,
    agent: ureq::Agent,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn agent(tls: Option<ureq::tls::TlsConfig>) -> ureq::Agent {
    let mut b = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)));
    if let Some(tls) = tls {
        b = b.tls_config(tls);
    }
    b.build().into()
}

impl Service {
    /// `airseal serve --vendor DIR --listen 127.0.0.1:0 ARGS`, once it prints its address;
    /// its log goes to `DIR/LOG_NAME`.
    fn start(dir: &Path, log_name: &str, args: &[&str], tls: Option<ureq::tls::TlsConfig>) -> Self {
        let log = dir.join(log_name);
        let mut child = Command::new(env!("CARGO_BIN_EXE_airseal"))
            .current_dir(dir)
            .args(["serve", "--vendor", ".", "--listen", "127.0.0.1:0"])
            .args(args)
            .env("AIRSEAL_PASSPHRASE", PASSPHRASE)
            .env("AIRSEAL_ISSUING_PASSPHRASE", ISSUING_PASSPHRASE)
            .env_remove("AIRSEAL_VENDOR")
            .env_remove("AIRSEAL_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
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
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                panic!("no address line: {line:?}; log: {text}")
            })
            .to_string();
        Self {
            child,
            base,
            log,
            agent: agent(tls),
        }
    }

    fn get(&self, path: &str) -> (u16, String, String) {
        let mut r = self
            .agent
            .get(format!("{}{path}", self.base))
            .call()
            .unwrap();
        let ct = r
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (
            r.status().as_u16(),
            ct,
            r.body_mut().read_to_string().unwrap(),
        )
    }

    /// Sends SIGTERM and waits (at most 30 s) for the process to exit.
    fn terminate(&mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        wait_exit(&mut self.child, Duration::from_secs(30))
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap()
    }
}

fn wait_exit(child: &mut Child, limit: Duration) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            start.elapsed() < limit,
            "the service did not exit in {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A vendor folder with one product (`seats` per key), `keys` keys and an issuing key.
fn vendor(seats: u32, keys: usize) -> (tempfile::TempDir, Vec<String>) {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    init_vendor(
        d,
        &format!(
            "\n[products.photo-pro]\nactivation_template = \"pro\"\n\
             [products.photo-pro.templates.pro]\nkind = \"subscription\"\ndays = 365\n\
             max_activations = {seats}\n"
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
            "k.txt",
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
    let keys = std::fs::read_to_string(d.join("k.txt"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    (tmp, keys)
}

/// The issuing key's flags, and no rate limits (these tests are not about them).
const ISSUING: [&str; 6] = [
    "--issuing-key",
    "issuing/s1",
    "--client-rate",
    "0",
    "--key-rate",
    "0",
];

/// An armored activation request for `key` from simulated device number `n`.
fn request(n: u32, key: &str) -> Vec<u8> {
    let mut seed = [0x5a; 32];
    seed[..4].copy_from_slice(&n.to_be_bytes());
    let device = Issuer::new(SigningKey::from_bytes(&seed));
    let id = n.to_be_bytes();
    let mut r = ActivationRequest {
        product: "photo-pro".into(),
        product_key: Some(key.to_string()),
        components: vec![
            [1, 1, 1, 1, id[0], id[1], id[2], id[3]],
            [2, 2, 2, 2, id[0], id[1], id[2], id[3]],
            [3, 3, 3, 3, id[0], id[1], id[2], id[3]],
        ],
        device_key: device.public_key(),
        nonce: [id[3]; 16],
        created: 1_780_000_000,
        app_version: None,
        purpose: Purpose::Activation,
        meters: vec![],
    };
    r.normalize();
    let bytes = device.sign(ObjectType::ActivationRequest, &r.encode());
    armor(ObjectType::ActivationRequest.armor_label(), &bytes).into_bytes()
}

/// Posts an activation request; `(status, JSON summary or problem)`, or `None` when the
/// connection failed (the service was stopping or gone).
fn activate(agent: &ureq::Agent, base: &str, body: &[u8]) -> Option<(u16, Value)> {
    let mut r = agent
        .post(format!("{base}/v1/activations"))
        .header("Accept", "application/json")
        .send(body)
        .ok()?;
    let status = r.status().as_u16();
    let text = r.body_mut().read_to_string().ok()?;
    Some((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

#[test]
fn health_readiness_and_metrics_count_requests_and_refusals() {
    let (tmp, keys) = vendor(1, 1);
    let service = Service::start(tmp.path(), "serve.log", &ISSUING, None);
    assert_eq!(service.get("/healthz"), (200, ct_text(), "ok\n".into()));
    let (status, _) = activate(&service.agent, &service.base, &request(0, &keys[0])).unwrap();
    assert_eq!(status, 201);
    assert_eq!(service.get("/readyz").0, 200);
    // A refusal: its error name is counted under its route.
    let mut r = service
        .agent
        .post(format!("{}/v1/activations", service.base))
        .send(&b"not a request"[..])
        .unwrap();
    assert!(r.status().as_u16() >= 400, "{}", r.status());
    let problem: Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
    let error = problem["error"].as_str().unwrap().to_string();
    let (status, content_type, metrics) = service.get("/metrics");
    assert_eq!(status, 200);
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    for line in [
        "airseal_http_requests_total{route=\"/healthz\",method=\"GET\",status=\"200\"} 1"
            .to_string(),
        "airseal_http_requests_total{route=\"/readyz\",method=\"GET\",status=\"200\"} 1"
            .to_string(),
        format!("airseal_refusals_total{{route=\"/v1/activations\",error=\"{error}\"}} 1"),
        "airseal_http_request_duration_seconds_count{route=\"/healthz\"} 1".to_string(),
        "airseal_activations_total{kind=\"seat\"} 1".to_string(),
        "# TYPE airseal_http_request_duration_seconds histogram".to_string(),
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "{line} not in:\n{metrics}"
        );
    }
}

fn ct_text() -> String {
    "text/plain; charset=utf-8".into()
}

/// A request carrying a bearer token, a body and a product key in its path and query: the
/// log line it leaves names the route and status and holds none of them.
fn secret_requests(service: &Service) {
    let token = "airseal_admin_SECRETID_TOKENSECRETVALUE0123456789";
    let r = service
        .agent
        .post(format!("{}/v1/activations", service.base))
        .header("Authorization", format!("Bearer {token}"))
        .send(&b"AIRSEAL:BODYMARKER-7Q2W"[..])
        .unwrap();
    assert!(r.status().as_u16() >= 400);
    let r = service
        .agent
        .get(format!(
            "{}/v1/keys/PATHKEY-ZZ9X?token=QUERYSECRET-5K",
            service.base
        ))
        .header("Authorization", format!("Bearer {token}"))
        .call()
        .unwrap();
    assert!(r.status().as_u16() >= 400);
}

const SECRETS: [&str; 5] = [
    "TOKENSECRETVALUE",
    "SECRETID",
    "BODYMARKER",
    "PATHKEY",
    "QUERYSECRET",
];

#[test]
fn request_logs_hold_no_token_body_or_path_values() {
    let (tmp, _) = vendor(1, 1);
    let mut service = Service::start(tmp.path(), "text.log", &ISSUING, None);
    secret_requests(&service);
    assert!(service.terminate().success());
    let log = service.log();
    let line = log
        .lines()
        .find(|l| l.contains("route=/v1/activations"))
        .unwrap_or_else(|| panic!("no request line for /v1/activations in:\n{log}"));
    assert!(
        line.contains("method=POST") && line.contains("status="),
        "{line}"
    );
    for secret in SECRETS {
        assert!(!log.contains(secret), "{secret} reached the log:\n{log}");
    }
}

#[test]
fn json_logs_are_one_object_per_line_without_secrets() {
    let (tmp, _) = vendor(1, 1);
    let mut args = ISSUING.to_vec();
    args.extend(["--log-format", "json"]);
    let mut service = Service::start(tmp.path(), "json.log", &args, None);
    secret_requests(&service);
    assert!(service.terminate().success());
    let log = service.log();
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let request = lines
        .iter()
        .find(|v| v["route"] == "/v1/activations")
        .unwrap_or_else(|| panic!("no request object for /v1/activations in:\n{log}"));
    assert_eq!(request["method"], "POST", "{request}");
    assert!(request["status"].as_u64().unwrap() >= 400, "{request}");
    assert!(lines.iter().any(|v| v["signal"] == "SIGTERM"), "{log}");
    for secret in SECRETS {
        assert!(!log.contains(secret), "{secret} reached the log:\n{log}");
    }
}

/// A self-signed certificate for 127.0.0.1, written as `cert.pem` and `key.pem` in `dir`;
/// its DER for a client to trust.
fn certificate(dir: &Path, name: &str) -> Vec<u8> {
    let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    std::fs::write(dir.join(format!("{name}.pem")), made.cert.pem()).unwrap();
    std::fs::write(
        dir.join(format!("{name}.key")),
        made.signing_key.serialize_pem(),
    )
    .unwrap();
    made.cert.der().to_vec()
}

fn trusting(der: &[u8]) -> ureq::tls::TlsConfig {
    let cert = ureq::tls::Certificate::from_der(der).to_owned();
    ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::Specific(Arc::new(vec![cert])))
        .build()
}

#[test]
fn https_with_a_certificate_the_client_trusts() {
    let (tmp, _) = vendor(1, 1);
    let d = tmp.path();
    let der = certificate(d, "server");
    let other = certificate(d, "other");
    let mut args = ISSUING.to_vec();
    args.extend(["--tls-cert", "server.pem", "--tls-key", "server.key"]);
    let service = Service::start(d, "tls.log", &args, Some(trusting(&der)));
    assert!(
        service.base.starts_with("https://127.0.0.1:"),
        "{}",
        service.base
    );
    assert_eq!(service.get("/healthz"), (200, ct_text(), "ok\n".into()));
    assert_eq!(service.get("/readyz").0, 200);
    // A client that trusts another certificate refuses the connection.
    let stranger = agent(Some(trusting(&other)));
    assert!(
        stranger
            .get(format!("{}/healthz", service.base))
            .call()
            .is_err()
    );
    // Plain HTTP to the TLS port is no answer.
    let plain = service.base.replacen("https://", "http://", 1);
    assert!(
        agent(None)
            .get(format!("{plain}/healthz"))
            .call()
            .map_or(true, |r| r.status() != 200)
    );
}

#[test]
fn a_file_that_is_not_a_certificate_stops_the_service_naming_it() {
    let (tmp, _) = vendor(1, 1);
    let d = tmp.path();
    certificate(d, "server");
    std::fs::write(d.join("not-a-cert.pem"), "hello\n").unwrap();
    let mut args = vec!["serve", "--vendor", ".", "--listen", "127.0.0.1:0"];
    args.extend(ISSUING);
    args.extend(["--tls-cert", "not-a-cert.pem", "--tls-key", "server.key"]);
    let err = fails(&airseal(d, &args), 3);
    assert!(err.contains("not-a-cert.pem"), "{err}");
    assert!(err.contains("--tls-cert"), "{err}");
    // --tls-cert without --tls-key is a usage error.
    let mut args = vec!["serve", "--vendor", "."];
    args.extend(["--tls-cert", "server.pem"]);
    fails(&airseal(d, &args), 2);
}

fn live_license_ids(dir: &Path) -> std::collections::BTreeSet<String> {
    Ledger::open(&dir.join("ledger.sqlite3"))
        .unwrap()
        .seats()
        .list(&ActivationFilter {
            live_only: true,
            ..Default::default()
        })
        .unwrap()
        .into_iter()
        .map(|a| a.license_id)
        .collect()
}

/// Answers received: the body's index, the status, the JSON summary or problem.
type Answers = Arc<std::sync::Mutex<Vec<(usize, u16, Value)>>>;

/// Clients posting `bodies` (each taken once, in order) from `threads` threads until the
/// bodies run out or the service stops answering; every answer goes into `answered`.
fn load(
    base: &str,
    bodies: &Arc<Vec<Vec<u8>>>,
    threads: usize,
    answered: &Answers,
) -> Vec<std::thread::JoinHandle<()>> {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    (0..threads)
        .map(|_| {
            let (base, bodies, answered, next) = (
                base.to_string(),
                Arc::clone(bodies),
                Arc::clone(answered),
                Arc::clone(&next),
            );
            std::thread::spawn(move || {
                let agent = agent(None);
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some(body) = bodies.get(i) else { return };
                    match activate(&agent, &base, body) {
                        Some((status, v)) => answered.lock().unwrap().push((i, status, v)),
                        // Refused connections: the service stopped; later bodies fail too.
                        None => return,
                    }
                }
            })
        })
        .collect()
}

/// Waits until `answered` holds at least `n` answers (at most 60 s).
fn wait_answers(answered: &std::sync::Mutex<Vec<(usize, u16, Value)>>, n: usize) {
    let start = Instant::now();
    while answered.lock().unwrap().len() < n {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no answers in time"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The license ids of the answers that granted a seat (201 new, 200 re-issued).
fn granted(answered: &[(usize, u16, Value)]) -> std::collections::BTreeSet<String> {
    answered
        .iter()
        .filter(|(_, status, _)| *status == 200 || *status == 201)
        .map(|(_, _, v)| v["license_id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn sigterm_lets_requests_in_flight_finish_and_exits_zero() {
    const N: usize = 120;
    let (tmp, keys) = vendor(1, N);
    let d = tmp.path();
    let bodies: Arc<Vec<Vec<u8>>> = Arc::new(
        keys.iter()
            .enumerate()
            .map(|(i, k)| request(u32::try_from(i).unwrap(), k))
            .collect(),
    );
    let mut service = Service::start(d, "serve.log", &ISSUING, None);
    let answered = Arc::new(std::sync::Mutex::new(Vec::new()));
    let clients = load(&service.base, &bodies, 8, &answered);
    wait_answers(&answered, 10);
    let status = service.terminate();
    for c in clients {
        c.join().unwrap();
    }
    assert!(status.success(), "exit {status:?}:\n{}", service.log());
    let answered = answered.lock().unwrap();
    // Answers are either grants or "shutting down" problems, never a failure.
    for (_, status, v) in answered.iter() {
        assert!(
            [200, 201, 503].contains(status),
            "{status}: {v}\n{}",
            service.log()
        );
    }
    let granted = granted(&answered);
    assert!(granted.len() >= 10, "{}", granted.len());
    // Every seat a client was told about is in the ledger, and nothing else is.
    assert_eq!(live_license_ids(d), granted);
    let log = service.log();
    assert!(log.contains("SIGTERM"), "{log}");
    assert!(log.contains("ledger connections closed"), "{log}");
    // Nothing left for a later opener to recover: SQLite removes the WAL at the last close.
    assert!(!d.join("ledger.sqlite3-wal").exists());
}

#[test]
fn sigkill_under_load_leaves_a_consistent_ledger() {
    const N: usize = 200;
    const SEATS: usize = 2;
    // Two machines per key, each key allowing two seats, then a third machine for the
    // first keys: refusals as well as grants happen under load.
    let (tmp, keys) = vendor(u32::try_from(SEATS).unwrap(), N / 2);
    let d = tmp.path();
    let mut all: Vec<Vec<u8>> = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        let i = u32::try_from(i).unwrap();
        all.push(request(i * 4, k));
        all.push(request(i * 4 + 1, k));
        if i < 10 {
            all.push(request(i * 4 + 2, k));
        }
    }
    let bodies = Arc::new(all);
    let mut service = Service::start(d, "serve.log", &ISSUING, None);
    let answered = Arc::new(std::sync::Mutex::new(Vec::new()));
    let clients = load(&service.base, &bodies, 12, &answered);
    wait_answers(&answered, 40);
    service.child.kill().unwrap(); // SIGKILL
    let status = wait_exit(&mut service.child, Duration::from_secs(10));
    assert!(!status.success());
    for c in clients {
        c.join().unwrap();
    }
    let answered = answered.lock().unwrap().clone();
    assert!(
        answered.len() < bodies.len(),
        "the kill came too late to test anything"
    );

    // The ledger opens (rolling back what was not committed) and SQLite finds it sound.
    let ledger = Ledger::open(&d.join("ledger.sqlite3")).unwrap();
    let check: String = ledger
        .connection()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let fk: i64 = ledger
        .connection()
        .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(fk, 0);
    let seats = ledger
        .seats()
        .list(&ActivationFilter {
            live_only: true,
            ..Default::default()
        })
        .unwrap();
    // Every seat a client was told about is there...
    let recorded: std::collections::BTreeSet<String> =
        seats.iter().map(|a| a.license_id.clone()).collect();
    let told = granted(&answered);
    assert!(
        told.is_subset(&recorded),
        "{:?}",
        told.difference(&recorded)
    );
    // ...no key has more seats than it allows...
    let mut per_key = std::collections::BTreeMap::<String, usize>::new();
    for a in &seats {
        *per_key.entry(a.key.clone().unwrap()).or_default() += 1;
        // ...and no row is half-written: each seat has its signed response and its audit row.
        assert!(!a.license_id.is_empty() && !a.token_id.is_empty());
    }
    assert!(per_key.values().all(|n| *n <= SEATS), "{per_key:?}");
    let audited: i64 = ledger
        .connection()
        .query_row(
            "SELECT count(*) FROM audit WHERE action = 'activation.create'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(usize::try_from(audited).unwrap(), seats.len());
    // Refusals told to clients were the seat limit, nothing else.
    for (_, status, v) in &answered {
        assert!(
            [200, 201].contains(status) || (*status == 409 && v["error"] == "no_seats_left"),
            "{status}: {v}"
        );
    }
    drop(ledger);

    // A restarted service answers again on the same ledger.
    let service = Service::start(d, "restart.log", &ISSUING, None);
    assert_eq!(service.get("/readyz").0, 200);
}
