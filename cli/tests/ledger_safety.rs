//! Issue 13, findings 3, 10 and 18 through the binary: a ledger that is missing, empty or
//! another folder's stops every command instead of being recreated; `ledger backup` and
//! `ledger restore`; `init --force` keeps the configuration; weak passphrases and loose
//! permissions are refused.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use airseal_vendor::ledger::Ledger;

mod common;
use common::{airseal, exits, init_vendor, ok, stderr};

const PRODUCT: &str = "\n[products.photo-pro]\nkey_pattern = \"XXXXX-XXXXX-XXXXX-XXXXX\"\n\
    activation_template = \"pro\"\n[products.photo-pro.templates.pro]\nkind = \"perpetual\"\n";

fn vendor() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    init_vendor(tmp.path(), PRODUCT);
    tmp
}

fn generate(dir: &Path, count: &str, out: &str) {
    ok(&airseal(
        dir,
        &[
            "keys",
            "generate",
            "--product",
            "photo-pro",
            "--count",
            count,
            "--quiet",
            "--out",
            out,
        ],
    ));
}

/// The keys `ledger keys` lists.
fn listed_keys(dir: &Path) -> Vec<String> {
    let out = ok(&airseal(dir, &["ledger", "keys", "--json"]));
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| r["key"].as_str().unwrap().to_string())
        .collect()
}

fn remove_ledger(dir: &Path) {
    for name in ["ledger.sqlite3", "ledger.sqlite3-wal", "ledger.sqlite3-shm"] {
        let _ = std::fs::remove_file(dir.join(name));
    }
}

/// Every command that opens the ledger, as a vendor would run it.
fn ledger_commands() -> Vec<Vec<&'static str>> {
    vec![
        vec!["ledger", "keys"],
        vec!["ledger", "audit"],
        vec![
            "keys",
            "generate",
            "--product",
            "photo-pro",
            "--count",
            "5",
            "--out",
            "more.csv",
        ],
        vec!["keys", "recover"],
        vec!["revocations", "export", "--out", "list.txt"],
        vec!["revoke", "--license", "L1"],
        vec!["ledger", "backup", "--out", "again.sqlite3"],
    ]
}

/// Every ledger command refuses with exit `code` (3: the ledger file cannot be read; 1:
/// it is the wrong one), naming the ledger once, the failure and the way out.
#[track_caller]
fn all_refused(dir: &Path, what: &str, code: i32) {
    for args in ledger_commands() {
        let o = airseal(dir, &args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(code), "{args:?}: {err}");
        assert_eq!(
            err.matches(&dir.join("ledger.sqlite3").display().to_string())
                .count(),
            1,
            "{args:?} names the ledger once: {err}"
        );
        assert!(err.contains(what), "{args:?}: {err}");
        assert!(
            err.contains("airseal ledger restore FILE"),
            "{args:?} names the way out: {err}"
        );
    }
    assert!(!dir.join("more.csv").exists() && !dir.join("list.txt").exists());
}

#[test]
fn a_deleted_ledger_stops_every_command_and_a_backup_brings_it_back() {
    let v = vendor();
    let d = v.path();
    let outside = tempfile::tempdir().unwrap();
    generate(d, "50", "keys.csv");
    let before = listed_keys(d);
    assert_eq!(before.len(), 50);
    let backup = outside.path().join("ledger.bak");
    ok(&airseal(
        d,
        &["ledger", "backup", "--out", backup.to_str().unwrap()],
    ));

    remove_ledger(d);
    all_refused(d, "is missing", 3);
    // Nothing recreated it.
    assert!(!d.join("ledger.sqlite3").exists());

    let out = ok(&airseal(
        d,
        &["ledger", "restore", backup.to_str().unwrap(), "--json"],
    ));
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["result"], "restored");
    assert_eq!(report["kept_aside"], serde_json::Value::Null);
    assert_eq!(listed_keys(d), before);
}

#[test]
fn an_emptied_ledger_stops_every_command() {
    let v = vendor();
    let d = v.path();
    generate(d, "20", "keys.csv");
    remove_ledger(d);
    std::fs::write(d.join("ledger.sqlite3"), b"").unwrap();
    all_refused(d, "is empty", 3);
    assert_eq!(
        std::fs::metadata(d.join("ledger.sqlite3")).unwrap().len(),
        0
    );
}

#[test]
fn another_folders_ledger_is_refused_and_its_backup_does_not_restore() {
    let a = vendor();
    let b = vendor();
    generate(a.path(), "10", "keys.csv");
    generate(b.path(), "30", "keys.csv");
    let b_backup = b.path().join("b.bak");
    ok(&airseal(b.path(), &["ledger", "backup", "--out", "b.bak"]));
    let a_keys = listed_keys(a.path());

    // B's backup is not A's ledger: refused, A's ledger untouched.
    let o = airseal(a.path(), &["ledger", "restore", b_backup.to_str().unwrap()]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("b.bak is ledger") && err.contains("this vendor folder records"),
        "{err}"
    );
    assert_eq!(listed_keys(a.path()), a_keys);

    // B's ledger copied over A's: every command refuses it.
    remove_ledger(a.path());
    std::fs::copy(&b_backup, a.path().join("ledger.sqlite3")).unwrap();
    all_refused(a.path(), "not ledger", 1);
}

#[test]
fn restore_keeps_the_current_ledger_aside_and_is_audited() {
    let v = vendor();
    let d = v.path();
    generate(d, "10", "first.csv");
    ok(&airseal(d, &["ledger", "backup", "--out", "l.bak"]));
    generate(d, "15", "second.csv");
    assert_eq!(listed_keys(d).len(), 25);

    let out = ok(&airseal(d, &["ledger", "restore", "l.bak", "--json"]));
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let aside = PathBuf::from(report["kept_aside"].as_str().unwrap());
    assert!(
        aside
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("ledger.sqlite3.replaced-"),
        "{aside:?}"
    );
    assert_eq!(report["identity"], report["replaced_identity"]);
    assert_eq!(listed_keys(d).len(), 10);
    // The ledger kept aside still holds all 25 keys, whole on its own.
    let kept = Ledger::open(&aside).unwrap();
    let n: i64 = kept
        .sqlite_connection()
        .unwrap()
        .query_row("SELECT count(*) FROM keys", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 25);
    // What the replaced ledger did after the backup is counted for the vendor.
    let last = |l: &Ledger| -> i64 {
        l.sqlite_connection()
            .unwrap()
            .query_row("SELECT max(id) FROM audit", [], |r| r.get(0))
            .unwrap()
    };
    let in_backup = last(&Ledger::open(&d.join("l.bak")).unwrap());
    let after = last(&kept) - in_backup;
    assert!(after > 0);
    assert_eq!(report["not_in_backup"].as_i64(), Some(after), "{report}");
    let audit = ok(&airseal(
        d,
        &["ledger", "audit", "--action", "ledger.", "--json"],
    ));
    assert!(audit.contains("ledger.restore"), "{audit}");
    // The backup was recorded after its copy was made: in the ledger kept aside.
    let backups = kept
        .audit()
        .recent(100)
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "ledger.backup")
        .count();
    assert_eq!(backups, 1);
}

#[test]
fn backup_refuses_to_overwrite_without_force() {
    let v = vendor();
    let d = v.path();
    std::fs::write(d.join("taken.bak"), b"precious").unwrap();
    let o = airseal(d, &["ledger", "backup", "--out", "taken.bak"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("pass --force"), "{err}");
    assert_eq!(std::fs::read(d.join("taken.bak")).unwrap(), b"precious");
    // Never over the ledger itself, even with --force.
    for own in ["ledger.sqlite3", "./ledger.sqlite3-wal"] {
        let o = airseal(d, &["ledger", "backup", "--out", own, "--force"]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(err.contains("is the ledger itself"), "{err}");
    }
    let out = ok(&airseal(
        d,
        &[
            "ledger",
            "backup",
            "--out",
            "taken.bak",
            "--force",
            "--json",
        ],
    ));
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        report["bytes"].as_u64().unwrap(),
        std::fs::metadata(d.join("taken.bak")).unwrap().len()
    );
    assert_eq!(
        report["identity"].as_str().unwrap(),
        std::fs::read_to_string(d.join("ledger.id")).unwrap().trim()
    );
}

/// A backup taken while `keys generate` writes a large batch is one consistent state: every
/// batch it records holds exactly the keys it says, and it restores.
#[test]
fn backup_is_consistent_while_another_process_writes() {
    let v = vendor();
    let d = v.path();
    // The products of airseal.toml reach the ledger before the writer holds its lock.
    assert!(listed_keys(d).is_empty());
    let mut writer = std::process::Command::new(env!("CARGO_BIN_EXE_airseal"))
        .current_dir(d)
        .args([
            "keys",
            "generate",
            "--product",
            "photo-pro",
            "--count",
            "300000",
            "--quiet",
            "--out",
            "big.csv",
        ])
        .env("AIRSEAL_PASSPHRASE", common::PASSPHRASE)
        .env_remove("AIRSEAL_VENDOR")
        .spawn()
        .unwrap();
    let mut backups = Vec::new();
    for i in 0..6 {
        let name = format!("b{i}.bak");
        ok(&airseal(d, &["ledger", "backup", "--out", &name]));
        backups.push(d.join(name));
        std::thread::sleep(std::time::Duration::from_millis(150));
    }
    assert!(writer.wait().unwrap().success());
    ok(&airseal(d, &["ledger", "backup", "--out", "after.bak"]));
    backups.push(d.join("after.bak"));
    for b in &backups {
        let l = Ledger::open(b).unwrap();
        let c = l.sqlite_connection().unwrap();
        let check: String = c
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
        let keys: i64 = c
            .query_row("SELECT count(*) FROM keys", [], |r| r.get(0))
            .unwrap();
        let recorded: i64 = c
            .query_row("SELECT coalesce(sum(inserted), 0) FROM batches", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(keys, recorded, "{b:?}");
        assert!(keys == 0 || keys == 300_000, "{b:?}: {keys}");
    }
    ok(&airseal(d, &["ledger", "restore", "after.bak"]));
    let n = ok(&airseal(d, &["ledger", "keys", "--format", "csv"]))
        .lines()
        .count();
    assert_eq!(n, 300_001);
}

/// A vendor folder made before ledger identities (no `ledger.id`) adopts its ledger once,
/// audited, and is protected from then on.
#[test]
fn an_older_vendor_folder_adopts_its_ledger_once() {
    let v = vendor();
    let d = v.path();
    generate(d, "5", "keys.csv");
    let id = std::fs::read_to_string(d.join("ledger.id")).unwrap();
    std::fs::remove_file(d.join("ledger.id")).unwrap();
    assert_eq!(listed_keys(d).len(), 5);
    assert_eq!(std::fs::read_to_string(d.join("ledger.id")).unwrap(), id);
    listed_keys(d);
    let audit = ok(&airseal(
        d,
        &["ledger", "audit", "--action", "ledger.adopt", "--json"],
    ));
    let rows: serde_json::Value = serde_json::from_str(&audit).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 1, "{audit}");
    remove_ledger(d);
    all_refused(d, "is missing", 3);
}

/// With no backup, starting again is a deliberate act: remove ledger.id, then init --force.
#[test]
fn a_new_ledger_only_after_the_old_one_is_disowned() {
    let v = vendor();
    let d = v.path();
    remove_ledger(d);
    let o = airseal(d, &["init", "--force"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(!d.join("ledger.sqlite3").exists());
    std::fs::remove_file(d.join("ledger.id")).unwrap();
    let out = ok(&airseal(d, &["init", "--force"]));
    assert!(out.contains("(created)"), "{out}");
    assert!(listed_keys(d).is_empty());
}

/// Finding 10: `init --force` in an existing vendor folder keeps every product, template
/// and the vendor id; another vendor id is refused.
#[test]
fn init_force_keeps_the_configuration_and_vendor_id() {
    let v = vendor();
    let d = v.path();
    let config = std::fs::read_to_string(d.join("airseal.toml")).unwrap();
    let out = ok(&airseal(d, &["init", "--force"]));
    assert!(out.contains("kept as it is"), "{out}");
    assert_eq!(
        std::fs::read_to_string(d.join("airseal.toml")).unwrap(),
        config
    );
    ok(&airseal(
        d,
        &["init", ".", "--force", "--vendor-id", "acme"],
    ));
    assert_eq!(
        std::fs::read_to_string(d.join("airseal.toml")).unwrap(),
        config
    );

    let o = airseal(d, &["init", ".", "--force", "--vendor-id", "other"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("\"acme\"") && err.contains("\"other\""),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(d.join("airseal.toml")).unwrap(),
        config
    );
    // The template is still there to generate with.
    generate(d, "3", "k.csv");
}

#[test]
fn weak_passphrases_need_an_explicit_flag() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    for weak in ["a", "short pass", "aaaaaaaaaaaaaaaa", "121212121212121"] {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_airseal"))
            .current_dir(d)
            .args(["init", "v", "--vendor-id", "acme"])
            .env("AIRSEAL_PASSPHRASE", weak)
            .env_remove("AIRSEAL_VENDOR")
            .output()
            .unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{weak}: {err}");
        assert!(
            err.contains("too weak") && err.contains("--weak-passphrase"),
            "{err}"
        );
        assert!(!err.contains(weak) || weak == "a", "never printed: {err}");
        // Refused before anything was created.
        assert!(!d.join("v").exists());
    }
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_airseal"))
        .current_dir(d)
        .args(["init", "v", "--vendor-id", "acme", "--weak-passphrase"])
        .env("AIRSEAL_PASSPHRASE", "a")
        .env_remove("AIRSEAL_VENDOR")
        .output()
        .unwrap();
    ok(&o);
    assert!(d.join("v").join("keys").join("signing.key").exists());
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
#[test]
fn the_vendor_folder_is_private() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("v");
    ok(&airseal(tmp.path(), &["init", "v", "--vendor-id", "acme"]));
    assert_eq!(mode(&d), 0o700);
    assert_eq!(mode(&d.join("keys")), 0o700);
    for f in [
        "airseal.toml",
        "ledger.sqlite3",
        "ledger.id",
        "keys/signing.key",
    ] {
        assert_eq!(mode(&d.join(f)), 0o600, "{f}");
    }
    for f in ["ledger.sqlite3-wal", "ledger.sqlite3-shm"] {
        if d.join(f).exists() {
            assert_eq!(mode(&d.join(f)), 0o600, "{f}");
        }
    }
    // `init .` in an existing, open folder closes it.
    let open = tmp.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    ok(&airseal(&open, &["init", ".", "--vendor-id", "acme"]));
    assert_eq!(mode(&open), 0o700);
    // A key folder `keygen` makes is private too.
    ok(&airseal(&d, &["keygen", "--out", "more/keys"]));
    assert_eq!(mode(&d.join("more/keys")), 0o700);
    assert_eq!(mode(&d.join("more/keys/signing.key")), 0o600);
    // A backup is as private as the ledger.
    ok(&airseal(&d, &["ledger", "backup", "--out", "l.bak"]));
    assert_eq!(mode(&d.join("l.bak")), 0o600);
}

#[cfg(unix)]
#[test]
fn a_signing_key_others_can_read_is_refused() {
    use std::os::unix::fs::PermissionsExt as _;
    let v = vendor();
    let d = v.path();
    let key = d.join("keys").join("signing.key");
    for loose in [0o640, 0o604, 0o644] {
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(loose)).unwrap();
        let o = airseal(d, &["revocations", "export", "--out", "list.txt"]);
        let err = exits(&o, 1);
        assert!(err.is_empty());
        let err = stderr(&o);
        assert!(
            err.contains(&key.display().to_string()) && err.contains(&format!("{loose:04o}")),
            "{err}"
        );
        assert!(err.contains("chmod 600"), "{err}");
        assert!(!d.join("list.txt").exists());
    }
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    ok(&airseal(d, &["revocations", "export", "--out", "list.txt"]));
}
