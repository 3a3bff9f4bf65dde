//! The ledger's schema: numbered `.sql` files under `crates/airseal-vendor/migrations/`,
//! embedded in the binary and applied in order when a ledger opens (atuin's layout).
//!
//! `PRAGMA user_version` records the last migration applied. A shipped migration is never
//! edited: its file is what every existing ledger was built from, and
//! `tests/data/ledger_schema.txt` pins the schema they add up to. The schema is written only
//! in those files; a test scans this crate's sources for DDL anywhere else.
//!
//! A migration that must re-encode stored values has a data step in Rust. Its file then holds
//! one line [`DATA_STEP`]: the SQL above it runs first, then the Rust step, then the SQL
//! below it, all in the migration's one transaction.

use super::db::{Backend, Connection};

use super::LedgerError;
use super::error::db;

/// One schema migration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Migration {
    /// Its number: the `user_version` of a ledger once it is applied.
    pub version: u32,
    /// Its file name under `crates/airseal-vendor/migrations/`.
    pub file: &'static str,
    /// The file's text.
    pub sql: &'static str,
    /// The PostgreSQL version under `migrations/postgres/`, for a migration that
    /// [`super::db::translate::script`] cannot translate honestly (triggers, `NOCASE`).
    pub postgres: Option<&'static str>,
}

macro_rules! migration {
    ($version:literal, $file:literal) => {
        Migration {
            version: $version,
            file: $file,
            sql: include_str!(concat!("../../migrations/", $file)),
            postgres: None,
        }
    };
    ($version:literal, $file:literal, postgres) => {
        Migration {
            version: $version,
            file: $file,
            sql: include_str!(concat!("../../migrations/", $file)),
            postgres: Some(include_str!(concat!("../../migrations/postgres/", $file))),
        }
    };
}

/// The schema migrations, numbered from 1 in increasing order. Append only.
///
/// Numbers are handed out ahead of time to changes developed side by side, so a branch may
/// lack a number another branch holds; [`next_after`] applies the next one listed. Once every
/// number handed out has landed, the list has no gap again.
pub const MIGRATIONS: &[Migration] = &[
    migration!(
        1,
        "0001_products_templates_batches_keys_audit.sql",
        postgres
    ),
    migration!(2, "0002_revocations.sql"),
    migration!(3, "0003_key_terms.sql"),
    migration!(4, "0004_activations.sql"),
    migration!(5, "0005_imports.sql"),
    migration!(6, "0006_licenses.sql"),
    migration!(7, "0007_terms_in_keys.sql"),
    migration!(8, "0008_revocation_undo.sql"),
    migration!(9, "0009_seat_components_and_term_start.sql"),
    migration!(10, "0010_ledger_identity.sql"),
    migration!(11, "0011_customers.sql", postgres),
    migration!(12, "0012_issuing_keys.sql"),
    migration!(13, "0013_certificates_by_key.sql"),
    migration!(14, "0014_tokens.sql"),
];

/// The schema version this build writes: the number of the last migration.
pub const SCHEMA_VERSION: u32 = 14;

/// The migration to apply to a ledger at `version`: the first one listed above it.
pub(super) fn next_after(version: u32) -> Option<&'static Migration> {
    MIGRATIONS.iter().find(|m| m.version > version)
}

/// The line of a migration file at which its Rust data step runs.
pub const DATA_STEP: &str = "-- airseal:data-step";

/// The part of a migration that SQL cannot do (re-encoding stored values).
type DataStep = fn(&Connection) -> Result<(), LedgerError>;

/// The data step of migration `version`, if it has one.
fn data_step(version: u32) -> Option<DataStep> {
    match version {
        // `key_terms` rows (JSON) become each key's CBOR terms record and loose form.
        7 => Some(super::terms::move_key_terms),
        _ => None,
    }
}

impl Migration {
    /// Applies this migration on `tx` (the caller's transaction): its SQL, with its data step
    /// at the [`DATA_STEP`] line.
    pub(super) fn apply(&self, tx: &Connection) -> Result<(), LedgerError> {
        let text = match tx.backend() {
            Backend::Sqlite => self.sql.to_string(),
            Backend::Postgres => self.postgres_sql(),
        };
        let (before, after) = text.split_once(DATA_STEP).unwrap_or((&text, ""));
        tx.execute_native(before)
            .map_err(db("applying a migration"))?;
        if let Some(step) = data_step(self.version) {
            step(tx)?;
        }
        tx.execute_native(after)
            .map_err(db("applying a migration"))?;
        Ok(())
    }

    /// This migration in PostgreSQL's dialect: its file under `migrations/postgres/`, or its
    /// SQLite file translated.
    pub fn postgres_sql(&self) -> String {
        match self.postgres {
            Some(sql) => sql.to_string(),
            None => super::db::translate::script(self.sql),
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::ledger::Ledger;

    #[test]
    fn migrations_are_numbered_from_one() {
        assert_eq!(MIGRATIONS.first().map(|m| m.version), Some(1));
        for pair in MIGRATIONS.windows(2) {
            assert!(pair[0].version < pair[1].version, "{}", pair[1].file);
        }
        for m in MIGRATIONS {
            assert!(
                m.file.starts_with(&format!("{:04}_", m.version)),
                "{}",
                m.file
            );
            assert!(m.file.ends_with(".sql"));
        }
        assert_eq!(MIGRATIONS.last().map(|m| m.version), Some(SCHEMA_VERSION));
        // Every file in the folder is listed.
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|f| f.ends_with(".sql"))
            .collect();
        files.sort();
        let listed: Vec<&str> = MIGRATIONS.iter().map(|m| m.file).collect();
        assert_eq!(files, listed);
    }

    #[test]
    fn a_data_step_line_marks_exactly_the_migrations_with_a_data_step() {
        for m in MIGRATIONS {
            let marks = m.sql.lines().filter(|l| l.trim() == DATA_STEP).count();
            let expected = usize::from(data_step(m.version).is_some());
            assert_eq!(marks, expected, "{}", m.file);
            assert_eq!(m.sql.matches(DATA_STEP).count(), expected, "{}", m.file);
        }
    }

    /// The schema is written only in `migrations/*.sql`: no DDL in this crate's Rust.
    #[test]
    fn no_schema_statement_outside_the_migration_files() {
        // Built from parts so this file does not contain what it looks for.
        let forbidden: Vec<[String; 2]> = [
            ("CREATE", "TABLE"),
            ("CREATE", "INDEX"),
            ("CREATE", "UNIQUE"),
            ("CREATE", "TRIGGER"),
            ("CREATE", "VIEW"),
            ("CREATE", "VIRTUAL"),
            ("ALTER", "TABLE"),
            ("DROP", "TABLE"),
            ("DROP", "INDEX"),
        ]
        .iter()
        .map(|(a, b)| [a.to_string(), b.to_string()])
        .collect();
        let mut found = Vec::new();
        let mut stack = vec![std::path::PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/src"
        ))];
        let mut scanned = 0;
        while let Some(path) = stack.pop() {
            if path.is_dir() {
                for e in std::fs::read_dir(&path).unwrap() {
                    stack.push(e.unwrap().path());
                }
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            scanned += 1;
            let text = std::fs::read_to_string(&path).unwrap();
            // Word pairs, across line breaks and indentation, quotes stripped.
            let words: Vec<&str> = text
                .split(|c: char| c.is_whitespace() || c == '"' || c == '(')
                .filter(|w| !w.is_empty())
                .collect();
            for pair in words.windows(2) {
                if forbidden.iter().any(|[a, b]| pair[0] == a && pair[1] == b) {
                    found.push(format!("{}: {} {}", path.display(), pair[0], pair[1]));
                }
            }
        }
        assert!(scanned > 10, "the scan found the sources");
        assert!(
            found.is_empty(),
            "schema statements outside migrations/: {found:#?}"
        );
    }

    /// What an older airseal left on `c`: the migrations up to `version` applied, one
    /// transaction each.
    pub(in crate::ledger) fn older_ledger(c: rusqlite::Connection, version: u32) -> Connection {
        let c = Connection::sqlite(c);
        for m in MIGRATIONS.iter().filter(|m| m.version <= version) {
            let tx = c.begin(super::super::db::Behavior::Write).unwrap();
            m.apply(&tx).unwrap();
            let sqlite = tx.as_sqlite().unwrap();
            if m.version == 1 {
                sqlite
                    .pragma_update(None, "application_id", super::super::APPLICATION_ID)
                    .unwrap();
            }
            sqlite
                .pragma_update(None, "user_version", m.version)
                .unwrap();
            tx.commit().unwrap();
        }
        c
    }

    /// The schema as SQLite stores it, and the pragmas the ledger sets at creation.
    fn schema(conn: &Connection) -> Vec<String> {
        let conn = conn.as_sqlite().unwrap();
        let mut st = conn
            .prepare("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name")
            .unwrap();
        let mut out: Vec<String> = st
            .query_map([], |r| {
                Ok(format!(
                    "{}|{}|{}|{}",
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?.unwrap_or_default()
                ))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        for p in ["application_id", "user_version", "page_size"] {
            out.push(
                conn.pragma_query_value(None, p, |r| r.get::<_, i64>(0))
                    .unwrap()
                    .to_string(),
            );
        }
        out
    }

    /// A ledger created at every older version, then opened by this build, has exactly the
    /// schema of a new one; and a new one has the schema pinned in `tests/data`, which is
    /// what the string constants these files replaced produced (so existing ledgers and new
    /// ones agree).
    #[test]
    fn a_ledger_migrated_from_each_version_equals_a_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let fresh = Ledger::open(&dir.path().join("fresh.sqlite3")).unwrap();
        let want = schema(fresh.connection());
        let pinned = include_str!("../../tests/data/ledger_schema.txt");
        assert_eq!(want.join("\n"), pinned.trim_end());
        for version in MIGRATIONS
            .iter()
            .map(|m| m.version)
            .filter(|v| *v < SCHEMA_VERSION)
        {
            let path = dir.path().join(format!("v{version}.sqlite3"));
            {
                // What an older airseal left: its migrations applied, one transaction each.
                let c = rusqlite::Connection::open(&path).unwrap();
                c.pragma_update(None, "page_size", 8192).unwrap();
                c.pragma_update(None, "journal_mode", "WAL").unwrap();
                let c = older_ledger(c, version);
                assert_ne!(schema(&c), want, "version {version} is not the latest");
            }
            let migrated = Ledger::open(&path).unwrap();
            assert_eq!(migrated.schema_version().unwrap(), SCHEMA_VERSION);
            assert_eq!(
                schema(migrated.connection()),
                want,
                "from version {version}"
            );
        }
    }
}
