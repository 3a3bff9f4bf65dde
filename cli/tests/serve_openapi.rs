//! The service's OpenAPI 3.1 document (`GET /openapi.json`, generated from the code) lists
//! every endpoint, and schemathesis, driven by it against the running binary with an admin
//! token, never makes the service answer 5xx or crash (DESIGN15 §6: skipped visibly without
//! `AIRSEAL_TEST_SCHEMATHESIS`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

mod common;
use common::http::Api;
use common::{airseal, init_vendor, ok, ok_json, schemathesis_or_skip};

/// Every endpoint of the issue, with its methods.
const ENDPOINTS: &[(&str, &[&str])] = &[
    ("/v1/keys", &["post"]),
    ("/v1/keys/{key}", &["get", "patch"]),
    ("/v1/licenses", &["post"]),
    ("/v1/renewals", &["post"]),
    ("/v1/revocations", &["get", "post"]),
    ("/v1/ledger/keys", &["get"]),
    ("/v1/ledger/licenses", &["get"]),
    ("/v1/ledger/activations", &["get"]),
    ("/v1/ledger/audit", &["get"]),
    ("/v1/activations", &["post"]),
    ("/v1/deactivations", &["post"]),
    ("/v1/keys/public", &["get"]),
];

fn vendor() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    init_vendor(
        tmp.path(),
        "\n[products.photo-pro]\nactivation_template = \"pro\"\n\
         [products.photo-pro.templates.pro]\nkind = \"subscription\"\ndays = 365\n\
         max_activations = 2\n",
    );
    tmp
}

#[test]
fn the_document_is_openapi_3_1_and_lists_every_endpoint() {
    let tmp = vendor();
    let svc = Api::start(tmp.path(), &[]);
    let doc = svc.get("/openapi.json", None).ok(200);
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().unwrap();
    for (path, methods) in ENDPOINTS {
        let item = paths
            .get(*path)
            .unwrap_or_else(|| panic!("{path} missing from {:?}", paths.keys()));
        for m in *methods {
            let op = &item[*m];
            assert!(op.is_object(), "{m} {path}");
            // Admin operations name the bearer scheme; the portal's none.
            let secured = op["security"].to_string().contains("bearer");
            let admin = !matches!(
                (*path, *m),
                (
                    "/v1/activations" | "/v1/deactivations" | "/v1/keys/public",
                    _
                ) | ("/v1/revocations", "get")
            );
            assert_eq!(secured, admin, "{m} {path}");
        }
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert!(doc["components"]["schemas"]["ProblemDoc"].is_object());
}

#[test]
fn schemathesis_finds_no_server_error() {
    let Some(exe) = schemathesis_or_skip("schemathesis_finds_no_server_error") else {
        return;
    };
    let tmp = vendor();
    let d = tmp.path();
    // Something for the admin API to find: keys, a license, a customer.
    let token = ok_json(&airseal(
        d,
        &[
            "tokens", "create", "--scope", "admin", "--name", "fuzz", "--json",
        ],
    ))["token"]
        .as_str()
        .unwrap()
        .to_string();
    ok(&airseal(
        d,
        &["customers", "add", "--email", "a@example.com"],
    ));
    // No rate limits: every generated request reaches its handler.
    let svc = Api::start(d, &["--client-rate", "0", "--key-rate", "0"]);
    let made = svc
        .send(
            "POST",
            "/v1/keys",
            Some(&token),
            &serde_json::json!({"product": "photo-pro", "count": 2}),
        )
        .ok(201);
    assert_eq!(made["keys"].as_array().unwrap().len(), 2);
    let out = Command::new(&exe)
        .current_dir(d)
        .args([
            "run",
            &format!("{}/openapi.json", svc.base),
            "--base-url",
            &svc.base,
            // schemathesis 3.x reads OpenAPI 3.1 behind this flag (.ci/run pins the version).
            "--experimental=openapi-3.1",
            "--checks",
            "not_a_server_error",
            "--hypothesis-max-examples",
            "30",
            "--hypothesis-seed",
            "15",
            "--hypothesis-deadline",
            "None",
            "--request-timeout",
            "20000",
            "-H",
            &format!("Authorization: Bearer {token}"),
        ])
        .env("SCHEMATHESIS_HOOKS", "")
        .output()
        .unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{report}");
    // The run reached the operations (not an empty or unreadable schema).
    assert!(
        report.contains("/v1/keys") || report.contains("passed"),
        "{report}"
    );
    // The service is still up after it all.
    svc.get("/healthz", None);
    let after = svc.get("/v1/ledger/keys", Some(&token)).ok(200);
    assert!(after["items"].as_array().unwrap().len() >= 2);
    drop(svc);
    let log = std::fs::read_to_string(d.join("serve.log")).unwrap();
    assert!(!log.contains(token.rsplit('_').next().unwrap()));
}
