//! `airseal serve`'s admin API through the real binary, over HTTP on loopback: a store's
//! flow (token, keys, license verified with `airseal verify`), suspension refusing
//! activation, revocation publishing a list, pagination, CSV guarded against formula
//! injection, every token refusal as a 401/403 problem, the audit log naming the token, and
//! no token in any response or log line after it was made.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

mod common;
use common::{MACHINE_A, PASSPHRASE, airseal, fails, init_vendor, ok, ok_json, stderr};

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

/// An HTTP answer.
#[derive(Debug)]
struct Answer {
    status: u16,
    content_type: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    #[track_caller]
    fn ok(&self, status: u16) -> Value {
        assert_eq!(self.status, status, "{}", self.body);
        self.json()
    }

    /// Asserts a problem with `status` and `error`; the document.
    #[track_caller]
    fn problem(&self, status: u16, error: &str) -> Value {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(self.content_type, "application/problem+json");
        let p = self.json();
        assert_eq!(p["error"], error, "{p}");
        assert_eq!(p["status"], status);
        p
    }
}

impl Service {
    /// `airseal serve` on a free loopback port, signing with the root key (these tests are
    /// about the admin API, not the signer), logs to `serve.log`.
    fn start(dir: &Path) -> Self {
        let log = std::fs::File::create(dir.join("serve.log")).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_airseal"))
            .current_dir(dir)
            .args(["serve", "--vendor", ".", "--listen", "127.0.0.1:0"])
            .arg("--allow-root-key")
            .env("AIRSEAL_PASSPHRASE", PASSPHRASE)
            .env_remove("AIRSEAL_ISSUING_PASSPHRASE")
            .env_remove("AIRSEAL_VENDOR")
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
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        Self { child, base, agent }
    }

    fn answer(mut r: ureq::http::Response<ureq::Body>) -> Answer {
        let headers = r
            .headers()
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect::<Vec<_>>();
        let content_type = headers
            .iter()
            .find(|(n, _)| n == "content-type")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        Answer {
            status: r.status().as_u16(),
            content_type,
            headers,
            body: r.body_mut().read_to_string().unwrap(),
        }
    }

    fn get(&self, path: &str, token: Option<&str>) -> Answer {
        let mut req = self.agent.get(format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        Self::answer(req.call().unwrap())
    }

    fn send(&self, method: &str, path: &str, token: Option<&str>, body: &Value) -> Answer {
        let url = format!("{}{path}", self.base);
        let mut req = match method {
            "POST" => self.agent.post(url),
            "PATCH" => self.agent.patch(url),
            other => panic!("{other}"),
        };
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        Self::answer(
            req.header("content-type", "application/json")
                .send(body.to_string())
                .unwrap(),
        )
    }
}

/// A vendor folder with product `photo-pro` (template `pro`: 2 seats, a year).
fn vendor() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    init_vendor(
        tmp.path(),
        "\n[products.photo-pro]\nactivation_template = \"pro\"\n\
         [products.photo-pro.templates.pro]\nkind = \"subscription\"\ndays = 365\n\
         max_activations = 2\nmax_deactivations = 1\n",
    );
    tmp
}

fn token(dir: &Path, scope: &str, name: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "tokens", "create", "--scope", scope, "--name", name, "--json",
    ];
    args.extend(extra);
    ok_json(&airseal(dir, &args))["token"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Every body the tests saw, to prove no token comes back.
#[derive(Default)]
struct Seen(Vec<String>);

impl Seen {
    fn keep(&mut self, a: Answer) -> Answer {
        self.0.push(a.body.clone());
        self.0
            .extend(a.headers.iter().map(|(n, v)| format!("{n}: {v}")));
        a
    }
}

#[test]
fn a_store_creates_keys_and_licenses_and_the_audit_log_names_its_token() {
    let tmp = vendor();
    let d = tmp.path();
    let admin = token(d, "admin", "store", &[]);
    let svc = Service::start(d);
    let mut seen = Seen::default();
    let t = Some(admin.as_str());

    // The purchase webhook: three keys, one seat each, for a customer.
    ok(&airseal(
        d,
        &["customers", "add", "--email", "jane@example.com"],
    ));
    let made = seen
        .keep(svc.send(
            "POST",
            "/v1/keys",
            t,
            &json!({"product": "photo-pro", "count": 3, "customer": 1,
                    "terms": {"max_activations": 1, "notes": "order 1001"}}),
        ))
        .ok(201);
    let keys: Vec<String> = made["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    assert_eq!(keys.len(), 3);
    // The ledger holds them with their customer and terms, as `keys update` would leave them.
    let listed = ok_json(&airseal(
        d,
        &["ledger", "keys", "--customer", "1", "--format", "json"],
    ));
    assert_eq!(listed.as_array().unwrap().len(), 3);
    assert!(listed.to_string().contains("order 1001"));

    // A license for the first key, verified offline by the CLI.
    let lic = seen
        .keep(svc.send(
            "POST",
            "/v1/licenses",
            t,
            &json!({"product": "photo-pro", "key": keys[0], "licensee_email": "jane@example.com"}),
        ))
        .ok(201);
    std::fs::write(d.join("jane.lic"), lic["license"].as_str().unwrap()).unwrap();
    let verified = ok_json(&airseal(
        d,
        &[
            "verify",
            "jane.lic",
            "--public-key",
            "keys/signing.pub",
            "--product",
            "photo-pro",
            "--json",
        ],
    ));
    assert!(
        verified
            .to_string()
            .contains(lic["license_id"].as_str().unwrap()),
        "{verified}"
    );
    let found = seen
        .keep(svc.get(&format!("/v1/keys/{}", keys[0]), t))
        .ok(200);
    assert_eq!(
        found["key"]["key"].as_str().unwrap().replace('-', ""),
        keys[0].replace('-', "")
    );
    assert_eq!(found["licenses"].as_array().unwrap().len(), 1);
    assert_eq!(found["licenses"][0]["license_id"], lic["license_id"]);
    seen.keep(svc.get("/v1/keys/AAAA-BBBB", t))
        .problem(404, "unknown_key");

    // Suspended through the API: activating the key is refused.
    let patched = seen
        .keep(svc.send(
            "PATCH",
            &format!("/v1/keys/{}", keys[1]),
            t,
            &json!({"status": "suspended", "reason": "chargeback"}),
        ))
        .ok(200);
    assert_eq!(patched["status"]["to"], "suspended");
    let mut req = vec![
        "request",
        "--product",
        "photo-pro",
        "--key",
        &keys[1],
        "--out",
        "k1.req",
    ];
    req.extend(MACHINE_A);
    ok(&airseal(d, &req));
    let err = fails(&airseal(d, &["activate", "k1.req", "--out", "k1.resp"]), 1);
    assert!(err.contains("suspended"), "{err}");
    // Reinstated and extended, it activates.
    seen.keep(svc.send(
        "PATCH",
        &format!("/v1/keys/{}", keys[1]),
        t,
        &json!({"status": "active", "terms": {"extend_days": 30}}),
    ))
    .ok(200);
    ok(&airseal(d, &["activate", "k1.req", "--out", "k1.resp"]));
    seen.keep(svc.send(
        "PATCH",
        &format!("/v1/keys/{}", keys[1]),
        t,
        &json!({"status": "revoked"}),
    ))
    .problem(422, "invalid");

    // Revoked: a new signed list that names the key's license.
    let revoked = seen
        .keep(svc.send(
            "POST",
            "/v1/revocations",
            t,
            &json!({"key": keys[0], "reason": "refund"}),
        ))
        .ok(200);
    assert_eq!(revoked["changed"], true);
    assert!(revoked["seq"].as_u64().unwrap() >= 1);
    std::fs::write(d.join("list.rev"), revoked["list"].as_str().unwrap()).unwrap();
    let code = airseal(
        d,
        &[
            "verify",
            "jane.lic",
            "--public-key",
            "keys/signing.pub",
            "--product",
            "photo-pro",
            "--revocations",
            "list.rev",
        ],
    );
    assert_eq!(code.status.code(), Some(23), "{}", stderr(&code));
    seen.keep(svc.send(
        "PATCH",
        &format!("/v1/keys/{}", keys[0]),
        t,
        &json!({"status": "active"}),
    ))
    .problem(410, "key_revoked");

    // Every change above is in the audit log under the token's name.
    let audit = seen
        .keep(svc.get("/v1/ledger/audit?actor=token:store&limit=1000", t))
        .ok(200);
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["actor"], "token:store", "{r}");
            r["action"].as_str().unwrap()
        })
        .collect();
    for action in ["batch.commit", "key.update", "key.suspend", "key.reinstate"] {
        assert!(actions.contains(&action), "{action}: {actions:?}");
    }
    assert!(
        actions.iter().any(|a| a.starts_with("license")),
        "{actions:?}"
    );
    assert!(actions.iter().any(|a| a.starts_with("revo")), "{actions:?}");
    // The CLI's own changes name no actor.
    let cli = ok_json(&airseal(
        d,
        &[
            "ledger",
            "audit",
            "--action",
            "customer.add",
            "--format",
            "json",
        ],
    ));
    assert_eq!(cli[0]["actor"], Value::Null);

    // No token text in any response or in the service's log.
    drop(svc);
    let log = std::fs::read_to_string(d.join("serve.log")).unwrap();
    let secret = admin.rsplit('_').next().unwrap();
    for text in seen.0.iter().chain([&log]) {
        assert!(!text.contains(secret), "token leaked: {text}");
    }
}

#[test]
fn listings_page_filter_and_guard_csv_cells() {
    let tmp = vendor();
    let d = tmp.path();
    let admin = token(d, "admin", "store", &[]);
    let svc = Service::start(d);
    let t = Some(admin.as_str());
    let made = svc
        .send(
            "POST",
            "/v1/keys",
            t,
            &json!({"product": "photo-pro", "count": 5}),
        )
        .ok(201);
    let keys: Vec<&str> = made["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();

    // Pages of 2: 2, 2, 1, each key once.
    let mut all = Vec::new();
    let mut offset = Some(0);
    let mut pages = 0;
    while let Some(o) = offset {
        let page = svc
            .get(
                &format!("/v1/ledger/keys?product=photo-pro&limit=2&offset={o}"),
                t,
            )
            .ok(200);
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        all.extend(items.iter().map(|k| k["key"].as_str().unwrap().to_string()));
        offset = page["next_offset"].as_u64();
        pages += 1;
    }
    assert_eq!(pages, 3);
    let mut want: Vec<String> = keys.iter().map(|k| k.replace('-', "")).collect();
    let mut got: Vec<String> = all.iter().map(|k| k.replace('-', "")).collect();
    want.sort();
    got.sort();
    assert_eq!(got, want);
    svc.get("/v1/ledger/keys?limit=0", t)
        .problem(400, "invalid");
    svc.get("/v1/ledger/keys?limit=abc", t)
        .problem(400, "invalid");
    svc.get("/v1/ledger/keys?format=xml", t)
        .problem(400, "invalid");
    svc.get("/v1/ledger/keys?status=suspended", t);

    // A licensee name a spreadsheet would run is written as text.
    let formula = "=HYPERLINK(\"http://evil.invalid\",\"x\")";
    svc.send(
        "POST",
        "/v1/licenses",
        t,
        &json!({"product": "photo-pro", "key": keys[0], "licensee_name": formula}),
    )
    .ok(201);
    let csv = svc.get("/v1/ledger/licenses?format=csv", t);
    assert_eq!(csv.status, 200, "{}", csv.body);
    assert!(
        csv.content_type.starts_with("text/csv"),
        "{}",
        csv.content_type
    );
    let mut lines = csv.body.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("license_id,source,product,key")
    );
    let row = lines.next().unwrap();
    assert!(row.contains("\"'=HYPERLINK("), "{row}");
    assert!(!row.contains(",=") && !row.contains(",\"="), "{row}");
    // The same row as JSON keeps the name as given.
    let json_rows = svc.get("/v1/ledger/licenses", t).ok(200);
    assert_eq!(json_rows["items"][0]["name"], formula);
    // Activations and licenses filter by key.
    let by_key = svc
        .get(&format!("/v1/ledger/licenses?key={}", keys[0]), t)
        .ok(200);
    assert_eq!(by_key["items"].as_array().unwrap().len(), 1);
    let none = svc
        .get(&format!("/v1/ledger/licenses?key={}", keys[1]), t)
        .ok(200);
    assert_eq!(none["items"].as_array().unwrap().len(), 0);
    svc.get("/v1/ledger/activations?live=true", t).ok(200);
}

#[test]
fn every_bad_token_is_refused_with_a_problem() {
    let tmp = vendor();
    let d = tmp.path();
    let admin = token(d, "admin", "store", &[]);
    let portal = token(d, "portal", "kiosk", &[]);
    let expired = token(
        d,
        "admin",
        "old",
        &["--now", "2001-01-01", "--expires", "2001-01-02"],
    );
    let revoked = token(d, "admin", "gone", &[]);
    let svc = Service::start(d);
    let path = "/v1/ledger/keys";

    let p = svc.get(path, None).problem(401, "unauthorized");
    assert!(p["detail"].as_str().unwrap().contains("Bearer"));
    assert_eq!(
        svc.get(path, None).header("www-authenticate"),
        Some("Bearer realm=\"airseal\"")
    );
    svc.get(path, Some("not-a-token"))
        .problem(401, "unauthorized");
    // The right id with another secret.
    let mut forged = admin.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    svc.get(path, Some(&forged)).problem(401, "unauthorized");
    let p = svc.get(path, Some(&expired)).problem(401, "token_expired");
    assert!(p["detail"].as_str().unwrap().contains("old"));
    svc.get(path, Some(&revoked)).ok(200);
    ok(&airseal(d, &["tokens", "revoke", "gone"]));
    svc.get(path, Some(&revoked)).problem(401, "token_revoked");
    let p = svc.get(path, Some(&portal)).problem(403, "wrong_scope");
    assert!(p["detail"].as_str().unwrap().contains("kiosk"));
    svc.send(
        "POST",
        "/v1/keys",
        Some(&portal),
        &json!({"product": "photo-pro"}),
    )
    .problem(403, "wrong_scope");
    svc.get(path, Some(&admin)).ok(200);
    // A bad body is a problem too, never an echo of the body.
    let p = svc
        .send(
            "POST",
            "/v1/keys",
            Some(&admin),
            &json!({"product": 7, "secret": "xyz"}),
        )
        .problem(400, "malformed");
    assert!(!p.to_string().contains("xyz"));
    drop(svc);
    let log = std::fs::read_to_string(d.join("serve.log")).unwrap();
    for t in [&admin, &portal, &expired, &revoked, &forged] {
        assert!(!log.contains(t.rsplit('_').next().unwrap()), "{log}");
    }
}
