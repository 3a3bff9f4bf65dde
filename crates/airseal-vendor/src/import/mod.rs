//! Importing licenses from other platforms' CSV exports (Cryptlex, Keygen, Lemon Squeezy,
//! Cryptolens, or any CSV with a mapping), keeping every key string exactly as exported.
//! The README's "Migrating from…" sections describe each preset for vendors.
//!
//! [`parse_export`] reads a file into valid rows and rejected rows without touching the
//! ledger; [`import`] then writes the valid rows as one batch in one transaction
//! ([`crate::ledger::Imports::write`]) and returns an [`ImportReport`] that puts every data row in
//! exactly one bucket: `read = imported + already_present + rejected`.
//!
//! # Columns
//!
//! Each column of the header goes to one [`Target`]: what `--map` says, else what the
//! preset knows the column to be, else — if its name is one that platforms use for
//! different things ([`presets::AMBIGUOUS`], e.g. `activations`: the limit or the count
//! used?) — the import is refused with [`ImportError::AmbiguousColumn`], whose message shows
//! the `--map` that settles it; else the column becomes a metadata entry named after its
//! header. Nothing in a row is dropped without `--map COLUMN=ignore`.
//!
//! # Rows
//!
//! A row is rejected, with its line, column and reason, when: it has more or fewer fields
//! than the header; a field is malformed; it has no key, or a key with control characters or
//! surrounding spaces inside quotes; its key already appeared earlier in the file (both
//! lines are named); a value does not parse (date, number, status, e-mail, custom fields);
//! its status says expired but it has no expiry; it would carry more than 50 metadata
//! entries (never truncated); or it conflicts with a key already in the ledger (unless
//! `update`). Blank lines (and rows of empty cells) are not rows; the report counts them.

mod csv;
pub mod export;
pub mod licenses;
mod presets;
mod values;

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use airseal_core::claims::{MAX_METADATA, MAX_NAME_LEN};
use serde::Serialize;

use crate::issue::{LicenseSpec, LimitSpec, MetaSpec, UnlimitedWord};
use crate::ledger::{
    BatchId, ImportRow, ImportWrite, KeyStatus, KeyTerms, Ledger, LedgerError, RowOutcome,
    TermsRecord,
};
use presets::{AMBIGUOUS, PresetDef, normalize};
use values::{IsoDuration, When};

/// The export formats `--from` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Preset {
    /// Cryptlex v2 dashboard export (`"Key ID", "Product Key", …`).
    CryptlexV2,
    /// Cryptlex (v3) export with the API's field names (`key, allowedActivations, …`).
    Cryptlex,
    /// Keygen license export.
    Keygen,
    /// Lemon Squeezy license keys export.
    LemonSqueezy,
    /// Cryptolens key export (F1..F8, period, machines); SKGL keys decoded with the
    /// product's secret phrase.
    Cryptolens,
    /// Any CSV: columns named like a target, `--map`, and metadata for the rest.
    Generic,
}

impl Preset {
    /// Every preset, in the order the help lists them.
    pub const ALL: [Preset; 6] = [
        Preset::CryptlexV2,
        Preset::Cryptlex,
        Preset::Keygen,
        Preset::LemonSqueezy,
        Preset::Cryptolens,
        Preset::Generic,
    ];

    fn def(self) -> &'static PresetDef {
        match self {
            Preset::CryptlexV2 => &presets::CRYPTLEX_V2,
            Preset::Cryptlex => &presets::CRYPTLEX_V3,
            Preset::Keygen => &presets::KEYGEN,
            Preset::LemonSqueezy => &presets::LEMONSQUEEZY,
            Preset::Cryptolens => &presets::CRYPTOLENS,
            Preset::Generic => &presets::GENERIC,
        }
    }

    /// The `--from` name.
    pub fn as_str(self) -> &'static str {
        self.def().name
    }

    /// Parses a `--from` name.
    ///
    /// # Errors
    /// A message listing the presets.
    pub fn parse(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|p| p.as_str()).collect();
                format!("unknown preset {s:?}: expected one of {}", names.join(", "))
            })
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a column holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The product key, kept byte for byte.
    Key,
    /// Licensee e-mail.
    Email,
    /// Licensee name.
    Name,
    /// Licensee first name (joined with the last name when there is no name column).
    FirstName,
    /// Licensee last name.
    LastName,
    /// Licensee organisation.
    Org,
    /// Status word of the platform (see the preset).
    Status,
    /// Expiry date or instant.
    Expires,
    /// Creation date (kept as the `created` metadata entry; anchors periods and intervals).
    Created,
    /// Activation limit (number or `unlimited`).
    MaxActivations,
    /// Activations already used on the old platform (seats never handed out twice).
    UsedActivations,
    /// Deactivation limit.
    MaxDeactivations,
    /// Deactivations already used.
    UsedDeactivations,
    /// Feature list: `F1..F8` or names, separated by `,`, `;`, `|` or spaces.
    Features,
    /// One feature bit as a yes/no column (`Feature(3)` = F3).
    Feature(u8),
    /// Validity in days from creation (0 = no expiry).
    PeriodDays,
    /// ISO 8601 subscription interval from creation (`P1Y`); makes a subscription.
    Interval,
    /// Cryptlex v2 custom fields (see the README for the encodings).
    CustomFields,
    /// A JSON object of metadata (Keygen).
    MetadataJson,
    /// Yes/no: the key is suspended (blocked, disabled).
    Suspended,
    /// Yes/no: the key is revoked.
    Revoked,
    /// One metadata entry with this name.
    Meta(Cow<'static, str>),
    /// Deliberately not imported.
    Ignore,
}

const TARGET_NAMES: &[(&str, Target)] = &[
    ("key", Target::Key),
    ("email", Target::Email),
    ("name", Target::Name),
    ("first_name", Target::FirstName),
    ("last_name", Target::LastName),
    ("org", Target::Org),
    ("status", Target::Status),
    ("expires", Target::Expires),
    ("created", Target::Created),
    ("max_activations", Target::MaxActivations),
    ("used_activations", Target::UsedActivations),
    ("max_deactivations", Target::MaxDeactivations),
    ("used_deactivations", Target::UsedDeactivations),
    ("features", Target::Features),
    ("period_days", Target::PeriodDays),
    ("interval", Target::Interval),
    ("custom_fields", Target::CustomFields),
    ("metadata_json", Target::MetadataJson),
    ("suspended", Target::Suspended),
    ("revoked", Target::Revoked),
    ("ignore", Target::Ignore),
];

impl Target {
    /// Parses a `--map` target: one of the names above, `f1`..`f8`, or `meta:NAME`.
    ///
    /// # Errors
    /// A message listing the targets.
    pub fn parse(s: &str) -> Result<Self, String> {
        if let Some(name) = s.strip_prefix("meta:") {
            if name.is_empty() || name.len() > MAX_NAME_LEN {
                return Err(format!(
                    "metadata name {name:?} must be 1 to {MAX_NAME_LEN} bytes"
                ));
            }
            return Ok(Target::Meta(Cow::Owned(name.to_string())));
        }
        if let Some(n) = s
            .strip_prefix(['f', 'F'])
            .and_then(|d| d.parse::<u8>().ok())
            .filter(|n| (1..=8).contains(n))
        {
            return Ok(Target::Feature(n));
        }
        TARGET_NAMES
            .iter()
            .find(|(n, _)| *n == s)
            .map(|(_, t)| t.clone())
            .ok_or_else(|| {
                let names: Vec<&str> = TARGET_NAMES.iter().map(|(n, _)| *n).collect();
                format!(
                    "unknown target {s:?}: expected {}, f1..f8 or meta:NAME",
                    names.join(", ")
                )
            })
    }

    /// The name `--map` uses for this target.
    pub fn name(&self) -> String {
        match self {
            Target::Meta(n) => format!("meta:{n}"),
            Target::Feature(n) => format!("f{n}"),
            other => TARGET_NAMES
                .iter()
                .find(|(_, t)| t == other)
                .map(|(n, _)| (*n).to_string())
                .unwrap_or_default(),
        }
    }
}

/// How to import a file.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The export format.
    pub preset: Preset,
    /// The product the keys belong to.
    pub product: String,
    /// `--map SOURCE=TARGET` pairs, overriding the preset.
    pub maps: Vec<(String, Target)>,
    /// The product template the keys' terms are laid over, by name, with its description
    /// (used to check the metadata limit of the combined license).
    pub template: Option<(String, LicenseSpec)>,
    /// The product's SKGL secret phrase (Cryptolens keys).
    pub skgl_secret: Option<String>,
    /// Replace the terms of keys already in the ledger with different ones.
    pub update: bool,
    /// Work everything out, write nothing.
    pub dry_run: bool,
    /// The file name, for the report and each key's recorded source.
    pub file: String,
}

/// Why a file cannot be imported at all (row problems are [`Rejection`]s instead).
#[non_exhaustive]
#[derive(Debug)]
pub enum ImportError {
    /// The file is not UTF-8 text.
    NotText {
        /// The line of the first byte that is not UTF-8.
        line: u64,
        /// Its offset in the file.
        byte: usize,
    },
    /// The file holds NUL bytes: a binary file (a spreadsheet, an archive), not CSV.
    Binary,
    /// The file is another format (JSON, XML or HTML), not CSV.
    NotCsv {
        /// What it looks like.
        what: &'static str,
    },
    /// The file has no header line.
    Empty,
    /// A quoted field is never closed.
    UnterminatedQuote {
        /// The line the quote opened on.
        line: u64,
    },
    /// The header row is malformed or names a column twice.
    BadHeader {
        /// What is wrong.
        message: String,
    },
    /// No column holds the key: not this preset's export.
    NoKeyColumn {
        /// The preset.
        preset: &'static str,
        /// The column the preset expected.
        expected: &'static str,
        /// The header found.
        header: Vec<String>,
    },
    /// A column's meaning depends on the platform: the caller must say which.
    AmbiguousColumn {
        /// 1-based column number.
        index: usize,
        /// Its header.
        column: String,
        /// The targets it could be (see [`Target`]).
        candidates: Vec<&'static str>,
    },
    /// A column has no header, so its data has no name to be kept under; it must be
    /// mapped to a target (or ignored) by name, which needs a header.
    UnnamedColumn {
        /// 1-based column number.
        index: usize,
    },
    /// A column no mapping covers would become a metadata entry, but its header is longer
    /// than a metadata name may be.
    ColumnNameTooLong {
        /// 1-based column number.
        index: usize,
        /// Its header.
        column: String,
        /// The longest metadata name allowed.
        max: usize,
    },
    /// A column mapping names a column the file does not have.
    UnknownMappedColumn {
        /// The column as given in the mapping.
        column: String,
        /// The file's header.
        header: Vec<String>,
    },
    /// Two columns go to the same target (one key, one expiry, one metadata name…).
    DuplicateTarget {
        /// 1-based number and header of the first column.
        first: (usize, String),
        /// 1-based number and header of the second column.
        second: (usize, String),
        /// The target both go to.
        target: String,
    },
    /// The ledger refused.
    Ledger(LedgerError),
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotText { line, byte } => write!(
                f,
                "line {line}: not UTF-8 text (byte {byte}); export the file as CSV in UTF-8"
            ),
            Self::Binary => f.write_str(
                "not a CSV file (it contains NUL bytes: a spreadsheet or archive?); export CSV",
            ),
            Self::NotCsv { what } => {
                write!(
                    f,
                    "not a CSV file: it looks like {what}; export CSV instead"
                )
            }
            Self::Empty => f.write_str("empty file: no header line"),
            Self::UnterminatedQuote { line } => write!(
                f,
                "line {line}: a quoted field opened here is never closed; not valid CSV"
            ),
            Self::BadHeader { message } => write!(f, "line 1 (header): {message}"),
            Self::NoKeyColumn {
                preset,
                expected,
                header,
            } => write!(
                f,
                "no key column: this does not look like a {preset} export (expected a \
                 {expected:?} column; the header has {})",
                if header.len() > 12 {
                    format!("{} columns: {:?}, …", header.len(), &header[..12])
                } else {
                    format!("{header:?}")
                }
            ),
            Self::AmbiguousColumn {
                index,
                column,
                candidates,
            } => write!(
                f,
                "column {index} {column:?} is ambiguous: platforms use that name for \
                 different things ({}), and airseal will not guess",
                candidates.join(" or ")
            ),
            Self::UnnamedColumn { index } => write!(
                f,
                "line 1 (header): column {index} has no name, so its data has nowhere to go \
                 (mapping a column by its position is not supported: add a header)"
            ),
            Self::ColumnNameTooLong { index, column, max } => write!(
                f,
                "line 1 (header): column {index} {column:?} would become a metadata entry, \
                 but metadata names are at most {max} bytes"
            ),
            Self::UnknownMappedColumn { column, header } => write!(
                f,
                "column mapping: the file has no column {column:?} (header: {header:?})"
            ),
            Self::DuplicateTarget {
                first,
                second,
                target,
            } => write!(
                f,
                "columns {} {:?} and {} {:?} both go to {target}",
                first.0, first.1, second.0, second.1
            ),
            Self::Ledger(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ImportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Ledger(e) => Some(e),
            _ => None,
        }
    }
}

impl From<LedgerError> for ImportError {
    fn from(e: LedgerError) -> Self {
        Self::Ledger(e)
    }
}

/// Why a row was not imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectKind {
    /// The row is wrong (a value, its shape).
    Invalid,
    /// Its key already appeared on an earlier line of the file.
    Duplicate,
    /// Its key is in the ledger with different data, and `update` was not given.
    Conflict,
}

/// One rejected row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    /// The line the row starts on.
    pub line: u64,
    /// The column at fault (its header), when one is.
    pub column: Option<String>,
    /// The key, when the row has one.
    pub key: Option<String>,
    /// What kind of rejection.
    pub kind: RejectKind,
    /// Why, in words.
    pub reason: String,
    /// For a duplicate: the line the key first appeared on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_line: Option<u64>,
    /// For a conflict: the fields that differ from the ledger.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
}

/// A key whose terms an import replaced (`update`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Update {
    /// The line.
    pub line: u64,
    /// The key.
    pub key: String,
    /// The fields that changed.
    pub fields: Vec<String>,
}

/// How a column was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ColumnUse {
    /// 1-based column number.
    pub index: usize,
    /// Its header.
    pub header: String,
    /// Its target, as `--map` names it.
    pub target: String,
    /// Whether the target came from `--map` (else from the preset, or the metadata rule).
    pub mapped: bool,
}

/// What an import did with every row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// The preset.
    pub preset: String,
    /// The file.
    pub file: String,
    /// The product.
    pub product: String,
    /// The batch the import was recorded as (`None` for a dry run).
    pub batch: Option<BatchId>,
    /// Nothing was written.
    pub dry_run: bool,
    /// Data rows read (blank lines excluded).
    pub read: u64,
    /// Rows written: new keys plus, with `update`, replaced terms.
    pub imported: u64,
    /// Of `imported`, existing keys whose terms were replaced.
    pub updated: u64,
    /// Rows whose key was already in the ledger with the same data.
    pub already_present: u64,
    /// Rows not imported (listed in `rejections`).
    pub rejected: u64,
    /// Of `rejected`: conflicts with the ledger.
    pub conflicts: u64,
    /// Of `rejected`: keys repeated inside the file.
    pub duplicates: u64,
    /// Of `rejected`: rows with a wrong value or shape.
    pub invalid: u64,
    /// Blank lines skipped (not rows).
    pub blank_lines: u64,
    /// Cryptolens: keys whose features and dates were decoded from the SKGL key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skgl_decoded: Option<u64>,
    /// How each column was read.
    pub columns: Vec<ColumnUse>,
    /// Every rejected row, by line.
    pub rejections: Vec<Rejection>,
    /// Every updated key, by line.
    pub updates: Vec<Update>,
}

impl ImportReport {
    /// Whether every row is accounted for exactly once: `read = imported + already_present
    /// + rejected`, and the rejection list and sub-counts agree.
    pub fn balanced(&self) -> bool {
        self.read == self.imported + self.already_present + self.rejected
            && self.rejected == self.conflicts + self.duplicates + self.invalid
            && self.rejected == self.rejections.len() as u64
            && self.updated == self.updates.len() as u64
    }
}

/// A file read and checked, before the ledger is consulted.
#[derive(Debug, Clone)]
pub struct ParsedExport {
    /// The valid rows, in file order.
    pub rows: Vec<ImportRow>,
    /// The rejected rows, in file order.
    pub rejections: Vec<Rejection>,
    /// Data rows read.
    pub read: u64,
    /// Blank lines skipped.
    pub blank_lines: u64,
    /// How each column was read.
    pub columns: Vec<ColumnUse>,
    /// SKGL keys decoded (Cryptolens with a secret phrase).
    pub skgl_decoded: Option<u64>,
}

struct Reject {
    column: Option<usize>,
    reason: String,
}

fn at(column: usize, reason: impl Into<String>) -> Reject {
    Reject {
        column: Some(column),
        reason: reason.into(),
    }
}

/// Strips a UTF-8 byte order mark and checks the bytes are text.
fn as_text(data: &[u8]) -> Result<&str, ImportError> {
    let bom = if data.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    let data = data.get(bom..).unwrap_or(data);
    if data.contains(&0) {
        return Err(ImportError::Binary);
    }
    std::str::from_utf8(data).map_err(|e| {
        let byte = e.valid_up_to();
        let line = data
            .get(..byte)
            .map_or(0, |b| b.iter().filter(|c| **c == b'\n').count())
            + 1;
        ImportError::NotText {
            line: line as u64,
            byte: byte + bom,
        }
    })
}

/// Decides the target of every column (see the module documentation).
fn resolve_columns(
    def: &PresetDef,
    header: &[String],
    maps: &[(String, Target)],
) -> Result<Vec<(Target, bool)>, ImportError> {
    let norm: Vec<String> = header.iter().map(|h| normalize(h)).collect();
    for (i, h) in header.iter().enumerate() {
        if let Some(j) = header.iter().take(i).position(|o| o == h) {
            return Err(ImportError::BadHeader {
                message: format!("columns {} and {} are both named {h:?}", j + 1, i + 1),
            });
        }
    }
    let mut targets: Vec<Option<(Target, bool)>> = vec![None; header.len()];
    for (source, target) in maps {
        let i = header
            .iter()
            .position(|h| h == source)
            .or_else(|| {
                let n = normalize(source);
                norm.iter().position(|h| !n.is_empty() && *h == n)
            })
            .ok_or_else(|| ImportError::UnknownMappedColumn {
                column: source.to_string(),
                header: header.to_vec(),
            })?;
        if let Some(slot) = targets.get_mut(i) {
            *slot = Some((target.clone(), true));
        }
    }
    for (i, slot) in targets.iter_mut().enumerate() {
        if slot.is_some() {
            continue;
        }
        let (h, n) = (
            header.get(i).map_or("", String::as_str),
            norm.get(i).map_or("", String::as_str),
        );
        if let Some((_, t)) = def.columns.iter().find(|(c, _)| *c == n) {
            *slot = Some((t.clone(), false));
            continue;
        }
        if let Some((_, choices)) = AMBIGUOUS.iter().find(|(c, _)| *c == n) {
            return Err(ImportError::AmbiguousColumn {
                index: i + 1,
                column: h.to_string(),
                candidates: choices.to_vec(),
            });
        }
        if h.is_empty() {
            // A column with no header and no mapping: data with no name cannot be metadata.
            return Err(ImportError::UnnamedColumn { index: i + 1 });
        }
        if h.len() > MAX_NAME_LEN {
            return Err(ImportError::ColumnNameTooLong {
                index: i + 1,
                column: h.to_string(),
                max: MAX_NAME_LEN,
            });
        }
        *slot = Some((Target::Meta(Cow::Owned(h.to_string())), false));
    }
    let targets: Vec<(Target, bool)> = targets
        .into_iter()
        .map(|t| t.unwrap_or((Target::Ignore, false)))
        .collect();
    // One column per target (metadata: one per name).
    for (i, (t, _)) in targets.iter().enumerate() {
        if *t == Target::Ignore {
            continue;
        }
        if let Some(j) = targets.iter().take(i).position(|(o, _)| o == t) {
            return Err(ImportError::DuplicateTarget {
                first: (j + 1, header.get(j).cloned().unwrap_or_default()),
                second: (i + 1, header.get(i).cloned().unwrap_or_default()),
                target: t.name().to_string(),
            });
        }
    }
    if !targets.iter().any(|(t, _)| *t == Target::Key) {
        return Err(ImportError::NoKeyColumn {
            preset: def.name,
            expected: def.key_column,
            header: header.to_vec(),
        });
    }
    Ok(targets)
}

/// One row being read.
#[derive(Default)]
struct Draft {
    email: Option<String>,
    name: Option<String>,
    first: Option<String>,
    last: Option<String>,
    org: Option<String>,
    status: Option<(presets::Status, usize)>,
    suspended: bool,
    revoked: bool,
    expires: Option<When>,
    created: Option<(When, usize)>,
    max_act: Option<LimitSpec>,
    used_act: Option<u64>,
    max_deact: Option<LimitSpec>,
    used_deact: Option<u64>,
    features: Vec<String>,
    bits: [Option<(bool, usize)>; 8],
    period: Option<(u32, usize)>,
    interval: Option<(IsoDuration, String, usize)>,
    /// Metadata entries and the column each came from, in the order read: a handful per row,
    /// so a list checked for repeats beats a map (whose inserts were a tenth of parsing), and
    /// the spec's map is built from it once.
    meta: Vec<(String, MetaSpec, usize)>,
}

impl Draft {
    fn put_meta(
        &mut self,
        header: &[String],
        col: usize,
        name: &str,
        value: MetaSpec,
    ) -> Result<(), Reject> {
        if name.is_empty() || name.len() > MAX_NAME_LEN {
            return Err(at(
                col,
                format!("metadata name {name:?} must be 1 to {MAX_NAME_LEN} bytes"),
            ));
        }
        // Past this many the row is rejected for its count anyway (`finish`); not checking
        // further keeps a hostile row of thousands of entries linear.
        let repeated = (self.meta.len() <= 2 * MAX_METADATA)
            .then(|| self.meta.iter().find(|(n, ..)| n == name))
            .flatten();
        if let Some((_, _, other)) = repeated {
            return Err(at(
                col,
                format!(
                    "metadata entry {name:?} given twice (also by column {:?})",
                    header.get(*other).map_or("", String::as_str)
                ),
            ));
        }
        self.meta.push((name.to_string(), value, col));
        Ok(())
    }
}

fn is_email(s: &str) -> bool {
    s.contains('@') && !s.chars().any(char::is_whitespace)
}

/// Reads one cell into the draft.
fn apply(
    def: &PresetDef,
    header: &[String],
    d: &mut Draft,
    col: usize,
    target: &Target,
    v: &str,
) -> Result<(), Reject> {
    let v = v.trim();
    let v = if def.null_word && v.eq_ignore_ascii_case("null") {
        ""
    } else {
        v
    };
    // Limits read an empty cell themselves (it can mean "unlimited").
    match target {
        Target::MaxActivations => {
            d.max_act = if v.is_empty() {
                def.empty_limit_unlimited
                    .then_some(LimitSpec::Word(UnlimitedWord::Unlimited))
            } else {
                Some(values::parse_limit(v, def.zero_limit_unlimited).map_err(|e| at(col, e))?)
            };
            return Ok(());
        }
        Target::MaxDeactivations => {
            // 0 deactivations is a real limit (no seat transfers), unlike 0 activations.
            if !v.is_empty() {
                d.max_deact = Some(if v.eq_ignore_ascii_case("unlimited") {
                    LimitSpec::Word(UnlimitedWord::Unlimited)
                } else {
                    LimitSpec::Count(values::parse_count(v).map_err(|e| at(col, e))?)
                });
            }
            return Ok(());
        }
        _ => {}
    }
    if v.is_empty() {
        return Ok(());
    }
    let some = |s: &str| Some(s.to_string());
    match target {
        Target::Key | Target::Ignore | Target::MaxActivations | Target::MaxDeactivations => {}
        Target::Email => {
            if !is_email(v) {
                return Err(at(col, format!("{v:?} is not an e-mail address")));
            }
            d.email = some(v);
        }
        Target::Name => d.name = some(v),
        Target::FirstName => d.first = some(v),
        Target::LastName => d.last = some(v),
        Target::Org => d.org = some(v),
        Target::Status => {
            let s = (def.status)(v)
                .map_err(|e| at(col, format!("{e}; {} knows {}", def.name, def.statuses)))?;
            d.status = Some((s, col));
        }
        Target::Expires => {
            d.expires = Some(values::parse_when(v, def.mdy_dates).map_err(|e| at(col, e))?);
        }
        Target::Created => {
            d.created = Some((
                values::parse_when(v, def.mdy_dates).map_err(|e| at(col, e))?,
                col,
            ));
        }
        Target::UsedActivations => {
            d.used_act = Some(values::parse_count(v).map_err(|e| at(col, e))?);
        }
        Target::UsedDeactivations => {
            d.used_deact = Some(values::parse_count(v).map_err(|e| at(col, e))?);
        }
        Target::Features => {
            for f in v
                .split([',', ';', '|', ' '])
                .map(str::trim)
                .filter(|f| !f.is_empty())
            {
                if f.len() > MAX_NAME_LEN {
                    return Err(at(col, format!("feature name {f:?} is over 64 bytes")));
                }
                if !d.features.iter().any(|g| g == f) {
                    d.features.push(f.to_string());
                }
            }
        }
        Target::Feature(n) => {
            let b = values::parse_bool(v).map_err(|e| at(col, e))?;
            if let Some(slot) = d.bits.get_mut(usize::from(n.saturating_sub(1))) {
                *slot = Some((b, col));
            }
        }
        Target::PeriodDays => {
            let n = values::parse_count(v)
                .ok()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| at(col, format!("{v:?} is not a number of days")))?;
            d.period = Some((n, col));
        }
        Target::Interval => {
            d.interval = Some((
                values::parse_duration(v).map_err(|e| at(col, e))?,
                v.to_string(),
                col,
            ));
        }
        Target::CustomFields => {
            for (k, m) in values::parse_custom_fields(v).map_err(|e| at(col, e))? {
                d.put_meta(header, col, &k, m)?;
            }
        }
        Target::MetadataJson => {
            for (k, m) in values::parse_json_metadata(v).map_err(|e| at(col, e))? {
                d.put_meta(header, col, &k, m)?;
            }
        }
        Target::Suspended => d.suspended |= values::parse_bool(v).map_err(|e| at(col, e))?,
        Target::Revoked => d.revoked |= values::parse_bool(v).map_err(|e| at(col, e))?,
        Target::Meta(name) => d.put_meta(header, col, name, values::meta_value(v))?,
    }
    Ok(())
}

/// Lays SKGL-decoded features and dates under the row's: a cell left empty takes the key's
/// value; a feature cell that disagrees with the key rejects the row.
fn apply_skgl(d: &mut Draft, key: &str, secret: &str, key_col: usize) -> Result<bool, Reject> {
    let Ok(k) = crate::skgl::decode(key, secret) else {
        return Ok(false);
    };
    for (i, on) in k.features.iter().enumerate() {
        match d.bits.get_mut(i) {
            Some(Some((b, col))) if b != on => {
                return Err(at(
                    *col,
                    format!(
                        "F{} is {b} here but the SKGL key says {on}; fix the export or the \
                         secret phrase",
                        i + 1
                    ),
                ));
            }
            Some(slot @ None) => *slot = Some((*on, key_col)),
            _ => {}
        }
    }
    let date = |(y, m, day): (i32, u32, u32)| chrono::NaiveDate::from_ymd_opt(y, m, day);
    if d.created.is_none() {
        d.created = date(k.created).map(|c| (When::Date(c), key_col));
    }
    if d.expires.is_none() && d.period.is_none() && k.days > 0 {
        d.expires = date(k.expires()).map(When::Date);
    }
    Ok(true)
}

/// Turns a finished draft into the key's status and terms.
fn finish(
    opts: &ImportOptions,
    template_meta: &BTreeMap<String, MetaSpec>,
    header: &[String],
    d: Draft,
    line: u64,
) -> Result<(KeyStatus, KeyTerms), Reject> {
    let mut d = d;
    let mut status = KeyStatus::Active;
    if let Some((s, col)) = d.status {
        status = s.key;
        if s.expired && d.expires.is_none() {
            return Err(at(
                col,
                "the status says expired but the row has no expiry date; give one (or \
                 map the column to meta:status to import the key as active)",
            ));
        }
    }
    if d.suspended && status == KeyStatus::Active {
        status = KeyStatus::Suspended;
    }
    if d.revoked {
        status = KeyStatus::Revoked;
    }
    let mut kind = None;
    if d.expires.is_none() {
        if let Some((dur, _, col)) = &d.interval {
            let (start, _) = d
                .created
                .ok_or_else(|| at(*col, "an interval needs the creation date to start from"))?;
            d.expires = Some(
                values::add_duration(start, *dur)
                    .ok_or_else(|| at(*col, "the interval ends out of range"))?,
            );
        } else if let Some((days, col)) = d.period {
            if days > 0 {
                let (start, _) = d.created.ok_or_else(|| {
                    at(
                        col,
                        "a period in days needs the creation date to start from",
                    )
                })?;
                d.expires = Some(
                    values::add_days(start, days)
                        .ok_or_else(|| at(col, "the period ends out of range"))?,
                );
            }
        }
    }
    if let Some((_, text, col)) = &d.interval {
        kind = Some("subscription".to_string());
        d.put_meta(
            header,
            *col,
            "subscription_interval",
            MetaSpec::Text(text.clone()),
        )?;
    }
    if let Some((created, col)) = d.created {
        d.put_meta(header, col, "created", MetaSpec::Text(created.to_spec()))?;
    }
    let extra = template_meta
        .keys()
        .filter(|k| !d.meta.iter().any(|(n, ..)| n == *k))
        .count();
    if d.meta.len() + extra > MAX_METADATA {
        // Name the column that brought most of them.
        let mut by_col: HashMap<usize, usize> = HashMap::new();
        for (_, _, c) in &d.meta {
            *by_col.entry(*c).or_default() += 1;
        }
        let col = by_col.into_iter().max_by_key(|(_, n)| *n).map(|(c, _)| c);
        return Err(Reject {
            column: col,
            reason: format!(
                "{} metadata entries{}: a license carries at most {MAX_METADATA}; the row is \
                 not truncated (map columns to ignore, or trim the export)",
                d.meta.len() + extra,
                if extra > 0 {
                    format!(" ({extra} from the template)")
                } else {
                    String::new()
                }
            ),
        });
    }
    let mut features = Vec::new();
    for (i, b) in d.bits.iter().enumerate() {
        if let Some((true, _)) = b {
            features.push(format!("F{}", i + 1));
        }
    }
    for f in d.features {
        if !features.contains(&f) {
            features.push(f);
        }
    }
    let name = d.name.or(match (d.first, d.last) {
        (Some(f), Some(l)) => Some(format!("{f} {l}")),
        (f, l) => f.or(l),
    });
    let spec = LicenseSpec {
        kind,
        licensee_name: name,
        licensee_email: d.email,
        licensee_org: d.org,
        expires: d.expires.map(When::to_spec),
        features,
        max_activations: d.max_act,
        max_deactivations: d.max_deact,
        metadata: d.meta.into_iter().map(|(k, v, _)| (k, v)).collect(),
        ..LicenseSpec::default()
    };
    Ok((
        status,
        KeyTerms {
            template: opts.template.as_ref().map(|(n, _)| n.clone()),
            spec,
            prior_activations: d.used_act.unwrap_or(0),
            prior_deactivations: d.used_deact.unwrap_or(0),
            // The file is recorded once per import (the `imports` row of the key's batch); each key
            // keeps only its line, which is most of a row's bytes saved in a large import.
            source: Some(format!("{} line {line}", opts.preset)),
            ..KeyTerms::default()
        },
    ))
}

/// Everything a worker needs to read rows.
struct Ctx<'a> {
    opts: &'a ImportOptions,
    def: &'static PresetDef,
    header: &'a [String],
    targets: &'a [(Target, bool)],
    key_col: usize,
    template_meta: &'a BTreeMap<String, MetaSpec>,
    secret: Option<&'a str>,
}

/// One data row read, before duplicates across the file are known.
struct Entry {
    /// The row, or why it was rejected.
    item: Result<ImportRow, Rejection>,
    /// The key a rejected row claims (for the duplicate check), when it has a usable one; a
    /// valid row's key is its row's.
    key: Option<String>,
    /// Its features and dates came from an SKGL key.
    skgl: bool,
}

impl Entry {
    /// The line the row starts on.
    fn line(&self) -> u64 {
        match &self.item {
            Ok(r) => r.line,
            Err(r) => r.line,
        }
    }

    /// The key the row claims, if any.
    fn key(&self) -> Option<&str> {
        match &self.item {
            Ok(r) => Some(&r.key),
            Err(_) => self.key.as_deref(),
        }
    }
}

/// What one worker read.
struct Chunk {
    entries: Vec<Entry>,
    blank: u64,
    /// Where its reader stopped.
    end: usize,
}

impl Ctx<'_> {
    fn column(&self, c: Option<usize>) -> Option<String> {
        c.and_then(|c| self.header.get(c).cloned())
    }

    fn invalid(
        &self,
        line: u64,
        column: Option<usize>,
        reason: String,
        key: Option<&str>,
    ) -> Rejection {
        Rejection {
            line,
            column: self.column(column),
            key: key.map(str::to_string),
            kind: RejectKind::Invalid,
            reason,
            first_line: None,
            fields: Vec::new(),
        }
    }

    fn entry(&self, rec: &csv::Record<'_>) -> Entry {
        let line = rec.line;
        let rejected = |r: Rejection| Entry {
            item: Err(r),
            key: None,
            skgl: false,
        };
        if let Some((i, why)) = &rec.malformed {
            return rejected(self.invalid(line, Some(*i), why.clone(), None));
        }
        if rec.fields.len() != self.header.len() {
            return rejected(self.invalid(
                line,
                None,
                format!(
                    "the row has {} fields, the header has {}",
                    rec.fields.len(),
                    self.header.len()
                ),
                None,
            ));
        }
        let key = rec.fields.get(self.key_col).map_or("", |k| k.as_ref());
        if key.is_empty() {
            return rejected(self.invalid(line, Some(self.key_col), "no key".into(), None));
        }
        if key.chars().any(char::is_control) || key.trim() != key {
            return rejected(
                self.invalid(
                    line,
                    Some(self.key_col),
                    "the key has control characters or surrounding spaces inside its quotes; \
                 customers could not type it"
                        .into(),
                    Some(key),
                ),
            );
        }
        let mut draft = Draft::default();
        let mut result = Ok(());
        for (col, ((target, _), value)) in self.targets.iter().zip(&rec.fields).enumerate() {
            result = apply(self.def, self.header, &mut draft, col, target, value);
            if result.is_err() {
                break;
            }
        }
        let mut skgl = false;
        if let (Ok(()), Some(secret)) = (&result, self.secret) {
            match apply_skgl(&mut draft, key, secret, self.key_col) {
                Ok(decoded) => skgl = decoded,
                Err(e) => result = Err(e),
            }
        }
        match result.and_then(|()| finish(self.opts, self.template_meta, self.header, draft, line))
        {
            Ok((status, terms)) => Entry {
                item: Ok(ImportRow {
                    line,
                    key: key.to_string(),
                    status,
                    terms: TermsRecord::new(&terms),
                }),
                key: None,
                skgl,
            },
            Err(r) => Entry {
                item: Err(self.invalid(line, r.column, r.reason, Some(key))),
                key: Some(key.to_string()),
                skgl,
            },
        }
    }

    /// Reads records from `start` (a record boundary on line `line`) until the reader
    /// reaches `stop` or the end, telling `tick` the reader's position every
    /// [`TICK_RECORDS`] records.
    fn chunk(
        &self,
        text: &str,
        start: usize,
        line: u64,
        stop: usize,
        tick: &mut dyn FnMut(usize),
    ) -> Result<Chunk, ImportError> {
        let mut reader = csv::Reader::starting_at(text, start, line);
        reader.expect_width(self.header.len());
        let mut out = Chunk {
            entries: Vec::new(),
            blank: 0,
            end: start,
        };
        let mut until_tick = TICK_RECORDS;
        while reader.pos() < stop {
            until_tick -= 1;
            if until_tick == 0 {
                until_tick = TICK_RECORDS;
                tick(reader.pos());
            }
            let Some(rec) = reader.next_record().map_err(map_csv)? else {
                break;
            };
            if rec.is_blank() {
                out.blank += 1;
            } else {
                out.entries.push(self.entry(&rec));
            }
        }
        out.end = reader.pos();
        Ok(out)
    }
}

fn map_csv(e: csv::CsvError) -> ImportError {
    match e {
        csv::CsvError::UnterminatedQuote { line } => ImportError::UnterminatedQuote { line },
    }
}

/// Below this many bytes of rows a second thread costs more than it saves.
const PARALLEL_MIN: usize = 1 << 20;

/// Records read between two progress reports while parsing (a report is a dynamic call or
/// an atomic store; a record is a microsecond or so of work).
const TICK_RECORDS: u32 = 4096;

/// How often the parse, done with its own half, reports the other thread's progress while
/// waiting for it (the other thread wakes it when it finishes).
const POLL: std::time::Duration = std::time::Duration::from_millis(20);

/// How far an import has got, for a progress display: [`import_with_progress`] reports
/// [`ImportProgress::Parsing`] while it reads the export, then
/// [`ImportProgress::Writing`] while it writes the valid rows to the ledger. Within a phase
/// the positions never go back, and each phase ends with its position at its total.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportProgress {
    /// Reading and checking the export.
    Parsing {
        /// Bytes of the export read so far.
        bytes: u64,
        /// The export's size in bytes.
        total: u64,
    },
    /// Writing the valid rows to the ledger (one transaction; a dry run too, then rolled
    /// back).
    Writing {
        /// Rows written so far.
        rows: u64,
        /// The valid rows to write.
        total: u64,
    },
}

/// Turns reader positions (in the text, past any byte order mark) into
/// [`ImportProgress::Parsing`] reports that never go back.
struct ParseProgress<'p> {
    progress: &'p mut dyn FnMut(ImportProgress),
    /// Bytes of the export before the text (a byte order mark).
    offset: u64,
    total: u64,
    last: u64,
}

impl ParseProgress<'_> {
    fn at(&mut self, pos: usize) {
        let bytes = (pos as u64).saturating_add(self.offset).min(self.total);
        if bytes > self.last {
            self.last = bytes;
            (self.progress)(ImportProgress::Parsing {
                bytes,
                total: self.total,
            });
        }
    }

    fn done(&mut self) {
        self.last = self.total;
        (self.progress)(ImportProgress::Parsing {
            bytes: self.total,
            total: self.total,
        });
    }
}

/// Reads the rows from byte `start` (line `line`) to the end, on two threads for large
/// files: the second starts at the first line break after the middle, and its work is kept
/// only if the first thread, reading on, ends its last record exactly there (a guess inside
/// a quoted field is detected that way and the rest is read again by one thread).
///
/// Progress goes to `progress` as the bytes both threads have read.
fn read_rows(
    ctx: &Ctx<'_>,
    text: &str,
    start: usize,
    line: u64,
    progress: &mut ParseProgress<'_>,
) -> Result<Vec<Chunk>, ImportError> {
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let rest = text.len().saturating_sub(start);
    let guess = (threads > 1 && rest >= PARALLEL_MIN)
        .then(|| {
            let mid = start + rest / 2;
            text.as_bytes()
                .get(mid..)
                .and_then(|b| b.iter().position(|c| *c == b'\n'))
                .map(|i| mid + i + 1)
        })
        .flatten()
        .filter(|g| *g < text.len());
    let Some(guess) = guess else {
        return Ok(vec![ctx.chunk(
            text,
            start,
            line,
            usize::MAX,
            &mut |p| progress.at(p),
        )?]);
    };
    // Where the second thread's reader is; the first thread reports the sum of both.
    let second_at = AtomicUsize::new(guess);
    let main = std::thread::current();
    let (first, second) = std::thread::scope(|s| {
        let second = std::thread::Builder::new()
            .spawn_scoped(s, || {
                let read = ctx.chunk(
                    text,
                    guess,
                    csv::line_at(text, guess),
                    usize::MAX,
                    &mut |p| second_at.store(p, Relaxed),
                );
                second_at.store(text.len(), Relaxed);
                main.unpark();
                read
            })
            .ok();
        let both =
            |first_at: usize| first_at.min(guess) + second_at.load(Relaxed).saturating_sub(guess);
        let first = ctx.chunk(text, start, line, guess, &mut |p| progress.at(both(p)));
        if let Some(h) = &second {
            while !h.is_finished() {
                progress.at(both(guess));
                std::thread::park_timeout(POLL);
            }
        }
        (first, second.and_then(|h| h.join().ok()))
    });
    let first = first?;
    if first.end == guess {
        if let Some(second) = second {
            return Ok(vec![first, second?]);
        }
    }
    // The guess fell inside a record (or the thread could not run): read on from where the
    // first thread stopped.
    let end = first.end;
    let rest = ctx.chunk(text, end, csv::line_at(text, end), usize::MAX, &mut |p| {
        progress.at(p);
    })?;
    Ok(vec![first, rest])
}

/// Reads and checks an export without touching the ledger.
///
/// # Errors
/// [`ImportError`] when the file as a whole cannot be read as this preset's export.
pub fn parse_export(data: &[u8], opts: &ImportOptions) -> Result<ParsedExport, ImportError> {
    parse_export_with_progress(data, opts, &mut |_| {})
}

/// [`parse_export`], reporting [`ImportProgress::Parsing`] to `progress` every few thousand
/// records, and once with the whole size when the export has been read and checked.
///
/// # Errors
/// As [`parse_export`].
pub fn parse_export_with_progress(
    data: &[u8],
    opts: &ImportOptions,
    progress: &mut dyn FnMut(ImportProgress),
) -> Result<ParsedExport, ImportError> {
    let def = opts.preset.def();
    let text = as_text(data)?;
    let mut progress = ParseProgress {
        progress,
        offset: (data.len() - text.len()) as u64,
        total: data.len() as u64,
        last: 0,
    };
    // A CSV header never starts like these; say what the file is rather than misparse it.
    match text.trim_start().chars().next() {
        Some('{' | '[') => return Err(ImportError::NotCsv { what: "JSON" }),
        Some('<') => {
            return Err(ImportError::NotCsv {
                what: "XML or HTML",
            });
        }
        _ => {}
    }
    let mut reader = csv::Reader::new(text);
    // The header is the first record that is not blank.
    let header_rec = loop {
        match reader.next_record().map_err(map_csv)? {
            None => return Err(ImportError::Empty),
            Some(r) if r.is_blank() => continue,
            Some(r) => break r,
        }
    };
    if let Some((i, why)) = &header_rec.malformed {
        return Err(ImportError::BadHeader {
            message: format!("column {}: {why}", i + 1),
        });
    }
    let header: Vec<String> = header_rec
        .fields
        .iter()
        .map(|f| f.trim().to_string())
        .collect();
    let targets = resolve_columns(def, &header, &opts.maps)?;
    let key_col = targets
        .iter()
        .position(|(t, _)| *t == Target::Key)
        .unwrap_or(0);
    let columns = header
        .iter()
        .zip(&targets)
        .enumerate()
        .map(|(i, (h, (t, mapped)))| ColumnUse {
            index: i + 1,
            header: h.clone(),
            target: t.name(),
            mapped: *mapped,
        })
        .collect();
    let template_meta = opts
        .template
        .as_ref()
        .map(|(_, s)| s.metadata.clone())
        .unwrap_or_default();
    let secret = match opts.preset {
        Preset::Cryptolens => opts.skgl_secret.as_deref(),
        _ => None,
    };
    let ctx = Ctx {
        opts,
        def,
        header: &header,
        targets: &targets,
        key_col,
        template_meta: &template_meta,
        secret,
    };
    let body = reader.pos();
    let chunks = read_rows(&ctx, text, body, csv::line_at(text, body), &mut progress)?;
    // Duplicates, in file order: the first line with a key keeps it. Two spellings of one
    // key (`ABCD-1234-EFGH`, `abcd1234efgh`) are one key: they have one match form, the
    // form activation, revocation and the verifier find a key by (`SPEC.md` §13, §16.2), so
    // keeping both would make either spelling ambiguous and revoke one customer's license
    // with the other's key. One hash per key, into a table sized for every row, borrowing
    // the keys already in match form (measured: growing a table of owned copies was a
    // tenth of the parse of a million rows, all of it on one core).
    let entries = chunks.iter().map(|c| c.entries.len()).sum();
    let mut seen: HashMap<Cow<'_, str>, u64> = HashMap::with_capacity(entries);
    let mut first_of: Vec<Option<u64>> = Vec::with_capacity(entries);
    for e in chunks.iter().flat_map(|c| &c.entries) {
        let line = e.line();
        first_of.push(match e.key() {
            Some(key) => match seen.entry(airseal_core::productkey::match_form(key)) {
                std::collections::hash_map::Entry::Occupied(first) => Some(*first.get()),
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(line);
                    None
                }
            },
            None => None,
        });
    }
    drop(seen);
    let mut rows = Vec::with_capacity(entries);
    let mut rejections = Vec::new();
    let (mut read, mut blank, mut decoded) = (0u64, 0u64, 0u64);
    let mut first_of = first_of.into_iter();
    for chunk in chunks {
        blank += chunk.blank;
        for e in chunk.entries {
            read += 1;
            if let Some(first) = first_of.next().flatten() {
                let line = e.line();
                rejections.push(Rejection {
                    line,
                    column: ctx.column(Some(key_col)),
                    key: match e.item {
                        Ok(row) => Some(row.key),
                        Err(_) => e.key,
                    },
                    kind: RejectKind::Duplicate,
                    reason: format!("the key is repeated: it first appears on line {first}"),
                    first_line: Some(first),
                    fields: Vec::new(),
                });
                continue;
            }
            match e.item {
                Ok(row) => {
                    decoded += u64::from(e.skgl);
                    rows.push(row);
                }
                Err(r) => rejections.push(r),
            }
        }
    }
    progress.done();
    Ok(ParsedExport {
        rows,
        rejections,
        read,
        blank_lines: blank,
        columns,
        skgl_decoded: secret.map(|_| decoded),
    })
}

/// Imports an export into the ledger as one batch in one transaction (or, with
/// `opts.dry_run`, works out the same report and writes nothing).
///
/// # Errors
/// [`ImportError`] for a file that cannot be read as this preset's export, or a ledger
/// error; nothing is then recorded.
pub fn import(
    ledger: &mut Ledger,
    data: &[u8],
    opts: &ImportOptions,
) -> Result<ImportReport, ImportError> {
    import_with_progress(ledger, data, opts, &mut |_| {})
}

/// [`import`], reporting how far it has got to `progress`: [`ImportProgress::Parsing`] in
/// bytes of `data`, then [`ImportProgress::Writing`] in rows, each every few thousand rows
/// and once at its total. The result is the same as [`import`]'s.
///
/// # Errors
/// As [`import`].
pub fn import_with_progress(
    ledger: &mut Ledger,
    data: &[u8],
    opts: &ImportOptions,
    progress: &mut dyn FnMut(ImportProgress),
) -> Result<ImportReport, ImportError> {
    let parsed = parse_export_with_progress(data, opts, progress)?;
    write_parsed_with_progress(ledger, parsed, opts, progress)
}

/// The second half of [`import`]: writes rows already read by [`parse_export`].
///
/// # Errors
/// A ledger error; nothing is then recorded.
pub fn write_parsed(
    ledger: &mut Ledger,
    parsed: ParsedExport,
    opts: &ImportOptions,
) -> Result<ImportReport, ImportError> {
    write_parsed_with_progress(ledger, parsed, opts, &mut |_| {})
}

/// [`write_parsed`], reporting [`ImportProgress::Writing`] to `progress` every few thousand
/// rows and once with every row written (before the commit).
///
/// # Errors
/// As [`write_parsed`].
pub fn write_parsed_with_progress(
    ledger: &mut Ledger,
    parsed: ParsedExport,
    opts: &ImportOptions,
    progress: &mut dyn FnMut(ImportProgress),
) -> Result<ImportReport, ImportError> {
    let ParsedExport {
        rows,
        mut rejections,
        read,
        blank_lines,
        columns,
        skgl_decoded,
    } = parsed;
    let w = ImportWrite {
        product: &opts.product,
        preset: opts.preset.as_str(),
        file: &opts.file,
        update: opts.update,
        dry_run: opts.dry_run,
    };
    let build =
        |batch: Option<BatchId>, outcomes: &[RowOutcome], rejections: &mut Vec<Rejection>| {
            let mut report = ImportReport {
                preset: opts.preset.as_str().to_string(),
                file: opts.file.clone(),
                product: opts.product.clone(),
                batch,
                dry_run: opts.dry_run,
                read,
                imported: 0,
                updated: 0,
                already_present: 0,
                rejected: 0,
                conflicts: 0,
                duplicates: 0,
                invalid: 0,
                blank_lines,
                skgl_decoded,
                columns: columns.clone(),
                rejections: Vec::new(),
                updates: Vec::new(),
            };
            for (row, outcome) in rows.iter().zip(outcomes) {
                match outcome {
                    RowOutcome::New => report.imported += 1,
                    RowOutcome::Same => report.already_present += 1,
                    RowOutcome::Updated { fields } => {
                        report.imported += 1;
                        report.updates.push(Update {
                            line: row.line,
                            key: row.key.clone(),
                            fields: fields.clone(),
                        });
                    }
                    RowOutcome::Conflict { fields } => rejections.push(Rejection {
                        line: row.line,
                        column: None,
                        key: Some(row.key.clone()),
                        kind: RejectKind::Conflict,
                        reason: format!(
                            "the key is already in the ledger with different {}; not changed \
                         (an import that allows updates replaces it)",
                            fields.join(", ")
                        ),
                        first_line: None,
                        fields: fields.clone(),
                    }),
                }
            }
            rejections.sort_by_key(|r| r.line);
            report.updated = report.updates.len() as u64;
            for r in rejections.iter() {
                match r.kind {
                    RejectKind::Invalid => report.invalid += 1,
                    RejectKind::Duplicate => report.duplicates += 1,
                    RejectKind::Conflict => report.conflicts += 1,
                }
            }
            report.rejected = rejections.len() as u64;
            report.rejections = rejections.clone();
            report
        };
    let mut stored: Option<ImportReport> = None;
    let total = rows.len() as u64;
    progress(ImportProgress::Writing { rows: 0, total });
    let mut last = 0;
    let mut written = |n: u64| {
        // Never back, never past the total.
        let n = n.min(total);
        if n > last {
            last = n;
            progress(ImportProgress::Writing { rows: n, total });
        }
    };
    let (batch, outcomes) =
        ledger
            .imports()
            .write_with_progress(&w, &rows, &mut written, |batch, outcomes| {
                let mut rej = rejections.clone();
                let report = build(batch, outcomes, &mut rej);
                let json = serde_json::to_value(&report).unwrap_or(serde_json::Value::Null);
                stored = Some(report);
                json
            })?;
    let report = match stored {
        Some(r) => r,
        None => build(batch, &outcomes, &mut rejections),
    };
    Ok(report)
}
