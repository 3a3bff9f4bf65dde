//! The vendor folder: one directory holding everything a vendor's airseal commands share,
//! found the way git finds a repository.
//!
//! ```text
//! airseal.toml        configuration: vendor id, products, key patterns, license templates
//! keys/signing.key    the signing key, encrypted (written by `airseal keygen`)
//! keys/signing.pub    its public key, to ship inside the app
//! ledger.sqlite3      the ledger (see [`crate::ledger`])
//! ledger.id           the identity of this folder's ledger (`SPEC.md` §17.5)
//! revocations.seq     the highest revocation list number ever exported from this folder
//! ```
//!
//! The folder is created owner-only (0700) and every file in it owner-only (0600) at
//! creation: the ledger holds every product key (each one a password for activation) and
//! customers' e-mail addresses, and `airseal.toml` may hold an SKGL secret.
//!
//! Commands take the folder from `--vendor DIR`, else from the `AIRSEAL_VENDOR` environment
//! variable, else from the nearest folder holding `airseal.toml` at or above the working
//! directory ([`find_vendor_dir`]). [`VendorDir::init`] creates one.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use airseal_core::productkey::Pattern;
use serde::{Deserialize, Serialize};

use crate::ids::{check_product_id, check_text};
use crate::issue::{IssueError, LicenseSpec};
use crate::ledger::{Ledger, LedgerError, LedgerLocation, RestoreReport};

/// The configuration file whose presence makes a folder a vendor folder.
pub const CONFIG_FILE: &str = "airseal.toml";
/// Environment variable naming the vendor folder when `--vendor` is not given.
pub const VENDOR_ENV: &str = "AIRSEAL_VENDOR";
/// Folder of the signing key files, inside the vendor folder.
pub const KEYS_DIR: &str = "keys";
/// The encrypted signing key, inside [`KEYS_DIR`].
pub const SIGNING_KEY_FILE: &str = "signing.key";
/// The public key, inside [`KEYS_DIR`].
pub const PUBLIC_KEY_FILE: &str = "signing.pub";
/// The ledger database, inside the vendor folder.
pub const LEDGER_FILE: &str = "ledger.sqlite3";
/// The identity of the folder's ledger (one line), inside the vendor folder.
pub const LEDGER_ID_FILE: &str = "ledger.id";
/// The highest revocation list sequence number exported from the folder (one line), inside
/// the vendor folder: the floor of the next list's number whatever ledger is in place.
pub const REVOCATION_SEQ_FILE: &str = "revocations.seq";
/// The latest revocation list exported from this folder, armored: what the vendor service
/// publishes (`GET /v1/revocations`). Written after the list is recorded.
pub const LATEST_LIST_FILE: &str = "revocations.latest";

/// Where [`find_vendor_dir`] was told (or had) to look.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SearchOrigin {
    /// The `--vendor` flag.
    Flag,
    /// The [`VENDOR_ENV`] environment variable.
    Env,
    /// The working directory and its parents.
    WorkingDir,
}

/// Why a vendor folder could not be found, created or read.
#[non_exhaustive]
#[derive(Debug)]
pub enum VendorDirError {
    /// No `airseal.toml` where we looked.
    NotFound {
        /// The folders looked in, nearest first.
        searched: Vec<PathBuf>,
        /// Why those folders.
        origin: SearchOrigin,
    },
    /// `airseal.toml` is not valid TOML or does not have the expected fields. The message
    /// is the TOML parser's and names the line and column.
    ConfigParse {
        /// The configuration file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A value in `airseal.toml` is well-formed TOML but unusable (an empty vendor id, a
    /// bad key pattern).
    InvalidConfig {
        /// The configuration file.
        path: PathBuf,
        /// The line of the key at fault, when it could be located.
        line: Option<u32>,
        /// The key, e.g. `products.photo-pro.key_pattern`.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// A license template in `airseal.toml` is not a valid license description (boxed: it
    /// carries the most, and every error of the vendor folder pays for the largest).
    InvalidTemplate(Box<TemplateFault>),
    /// The product or template is not in `airseal.toml`.
    UnknownTemplate {
        /// The product asked for.
        product: String,
        /// The template asked for.
        template: String,
    },
    /// `airseal.toml` already declares this product.
    ProductExists {
        /// The configuration file.
        path: PathBuf,
        /// The product id.
        product: String,
    },
    /// `airseal.toml` declares no such product.
    UnknownProduct {
        /// The product id.
        product: String,
    },
    /// `init` found an existing `airseal.toml` and was not told to go on.
    AlreadyInitialized {
        /// The existing configuration file.
        path: PathBuf,
    },
    /// `init` on an existing vendor folder was given another vendor id than the one its
    /// `airseal.toml` holds. The id is the issuer of every license: it is not changed by
    /// `init`.
    VendorIdChange {
        /// The existing configuration file.
        path: PathBuf,
        /// The vendor id it holds.
        existing: String,
        /// The vendor id asked for.
        asked: String,
    },
    /// Reading or writing a file or folder failed.
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The ledger could not be created or opened.
    Ledger(LedgerError),
}

/// What is wrong with a template of `airseal.toml`, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateFault {
    /// The configuration file.
    pub path: PathBuf,
    /// The line of the field at fault (or of the template), when it could be located.
    pub line: Option<u32>,
    /// The product it belongs to.
    pub product: String,
    /// The template's name.
    pub template: String,
    /// The template key at fault (`expires`, `features`, …), when known.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for TemplateFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, " line {line}")?;
        }
        write!(
            f,
            ": template products.{}.templates.{}",
            self.product, self.template
        )?;
        if let Some(field) = &self.field {
            write!(f, ", field {field}")?;
        }
        write!(f, ": {}", self.message.trim_end())
    }
}

impl fmt::Display for VendorDirError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound { searched, origin } => {
                let first = searched
                    .first()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                match origin {
                    SearchOrigin::Flag => {
                        write!(f, "no vendor folder at {first}: no {CONFIG_FILE} there")
                    }
                    SearchOrigin::Env => write!(
                        f,
                        "{VENDOR_ENV}={first}: no vendor folder there (no {CONFIG_FILE})"
                    ),
                    SearchOrigin::WorkingDir => write!(
                        f,
                        "no vendor folder: no {CONFIG_FILE} in {first} or any folder above it \
                         ({} searched)",
                        searched.len()
                    ),
                }
            }
            Self::ConfigParse { path, message } => {
                write!(f, "{}: {}", path.display(), message.trim_end())
            }
            Self::InvalidConfig {
                path,
                line,
                key,
                message,
            } => {
                write!(f, "{}", path.display())?;
                if let Some(line) = line {
                    write!(f, " line {line}")?;
                }
                write!(f, ": {key}: {message}")
            }
            Self::InvalidTemplate(fault) => fault.fmt(f),
            Self::UnknownTemplate { product, template } => write!(
                f,
                "no template {template:?} for product {product:?} in {CONFIG_FILE}"
            ),
            Self::ProductExists { path, product } => write!(
                f,
                "{}: product {product:?} is already declared",
                path.display()
            ),
            Self::UnknownProduct { product } => {
                write!(f, "no product {product:?} in {CONFIG_FILE}")
            }
            Self::AlreadyInitialized { path } => write!(
                f,
                "{} already exists: this folder is already a vendor folder",
                path.display()
            ),
            Self::VendorIdChange {
                path,
                existing,
                asked,
            } => write!(
                f,
                "{} has vendor id {existing:?}; init does not change it to {asked:?} (it is the \
                 issuer of every license)",
                path.display()
            ),
            Self::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Self::Ledger(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for VendorDirError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            Self::Ledger(e) => Some(e),
            _ => None,
        }
    }
}

impl From<LedgerError> for VendorDirError {
    fn from(e: LedgerError) -> Self {
        Self::Ledger(e)
    }
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> VendorDirError + '_ {
    move |source| VendorDirError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The contents of `airseal.toml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The vendor id, written into every license as its issuer (`iss`).
    pub vendor: String,
    /// The issuing key that signs by default (`SPEC.md` §18): the folder `airseal
    /// issuing-key create` wrote, relative to the vendor folder. Without it the root signing
    /// key (`keys/signing.key`) signs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuing_key: Option<PathBuf>,
    /// Products by id (the license `aud`).
    #[serde(default)]
    pub products: BTreeMap<String, ProductConfig>,
    /// The customer portal of `airseal serve` (the `[portal]` table); optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub portal: Option<PortalConfig>,
}

/// The `[portal]` table: what the customer portal tells customers.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortalConfig {
    /// Where customers get help, shown in the portal's error pages ("…or contact
    /// support@example.com"): an e-mail address, a web address or a phone number, as
    /// text (at most [`PortalConfig::SUPPORT_MAX`] characters, no control characters).
    pub support: Option<String>,
}

impl PortalConfig {
    /// The longest support text accepted: one line on a page.
    pub const SUPPORT_MAX: usize = 200;
}

/// One `[products.<id>]` table.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductConfig {
    /// Human-readable name.
    pub name: Option<String>,
    /// Pattern of this product's keys, e.g. `XXXXX-XXXXX-XXXXX-XXXXX` (see
    /// [`airseal_core::productkey::Pattern`]); checked when the file is read.
    pub key_pattern: Option<String>,
    /// Secret phrase of legacy Cryptolens SKGL keys, only to read them (see [`crate::skgl`]).
    pub skgl_secret: Option<String>,
    /// License templates by name, with the fields of [`LicenseSpec`]. Kept as TOML tables
    /// (checked when the file is read) so the CLI can lay flags over them before parsing.
    #[serde(default)]
    pub templates: BTreeMap<String, toml::Table>,
    /// The template `airseal activate` answers a product key's activation request with, when
    /// neither the key's own terms nor its batch name one (see [`crate::activate`]).
    pub activation_template: Option<String>,
    /// The template of this product's trial; without one, trial requests are refused.
    pub trial_template: Option<String>,
}

impl Config {
    /// Parses and checks the text of `airseal.toml`; `path` is only used in messages.
    ///
    /// # Errors
    /// [`VendorDirError::ConfigParse`] for bad TOML or unknown fields,
    /// [`VendorDirError::InvalidConfig`] for an unusable value,
    /// [`VendorDirError::InvalidTemplate`] for a template that is not a license description.
    pub fn parse(text: &str, path: &Path) -> Result<Self, VendorDirError> {
        let config: Self = toml::from_str(text).map_err(|e| VendorDirError::ConfigParse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        config.check(path, text).map_err(|e| match e {
            VendorDirError::InvalidTemplate(mut fault) => {
                if fault.line.is_none() {
                    // The TOML reader names the key in its message (``in `days` ``,
                    // ``unknown field `featurez` ``) when the check could not.
                    let named = fault
                        .field
                        .clone()
                        .or_else(|| key_in_message(&fault.message));
                    fault.line =
                        template_line(text, &fault.product, &fault.template, named.as_deref());
                }
                VendorDirError::InvalidTemplate(fault)
            }
            other => other,
        })?;

        Ok(config)
    }

    /// Reads and checks `airseal.toml`.
    ///
    /// # Errors
    /// [`VendorDirError::Io`], or those of [`Config::parse`].
    pub fn load(path: &Path) -> Result<Self, VendorDirError> {
        let text = fs::read_to_string(path).map_err(io_error(path))?;
        Self::parse(&text, path)
    }

    /// Everything serde cannot check, reported at load time rather than at first use.
    fn check(&self, path: &Path, text: &str) -> Result<(), VendorDirError> {
        // `at` is the key's path in the file, for its line; the message names it dotted.
        let invalid = |at: &[&str], message: String| VendorDirError::InvalidConfig {
            path: path.to_path_buf(),
            line: key_line(text, at),
            key: at.join("."),
            message,
        };
        if self.vendor.trim().is_empty() {
            return Err(invalid(&["vendor"], "must not be empty".into()));
        }
        check_text("vendor id", &self.vendor).map_err(|e| invalid(&["vendor"], e.to_string()))?;
        if let Some(support) = self.portal.as_ref().and_then(|p| p.support.as_deref()) {
            let at = ["portal", "support"];
            if support.trim().is_empty() {
                return Err(invalid(&at, "must not be empty".into()));
            }
            if support.chars().count() > PortalConfig::SUPPORT_MAX {
                return Err(invalid(
                    &at,
                    format!("longer than {} characters", PortalConfig::SUPPORT_MAX),
                ));
            }
            check_text("support address", support).map_err(|e| invalid(&at, e.to_string()))?;
        }
        for (id, product) in &self.products {
            check_product_id(id).map_err(|e| invalid(&["products", id], e.to_string()))?;
            if let Some(pattern) = &product.key_pattern {
                Pattern::parse(pattern)
                    .map_err(|e| invalid(&["products", id, "key_pattern"], e.to_string()))?;
            }
            for (field, name) in [
                ("activation_template", &product.activation_template),
                ("trial_template", &product.trial_template),
            ] {
                if let Some(name) = name {
                    if !product.templates.contains_key(name) {
                        return Err(invalid(
                            &["products", id, field],
                            format!("no template {name:?} under [products.{id}.templates]"),
                        ));
                    }
                }
            }
            for name in product.templates.keys() {
                let spec = self.template_spec(id, name).map_err(|e| match e {
                    VendorDirError::InvalidTemplate(mut fault) => {
                        fault.path = path.to_path_buf();
                        VendorDirError::InvalidTemplate(fault)
                    }
                    other => other,
                })?;

                // Every field read now as issuing will read it: a template that could never
                // make a license is refused when the file loads, by every command, not when
                // a customer activates (`SPEC.md` §17.1).
                spec.check().map_err(|e| {
                    let (field, message) = match e {
                        IssueError::InvalidField { field, message } => {
                            (Some(template_key(field).to_string()), message)
                        }
                        IssueError::InvalidClaims(why) => (None, why.to_string()),
                        IssueError::Scope(e) => (None, e.to_string()),
                    };
                    VendorDirError::InvalidTemplate(Box::new(TemplateFault {
                        path: path.to_path_buf(),
                        line: None,
                        product: id.clone(),
                        template: name.clone(),
                        field,
                        message,
                    }))
                })?;
            }
        }
        Ok(())
    }

    /// The license description of a template, with `product` filled in from the table it
    /// sits in and `issuer` from [`Config::vendor`] when the template leaves them out.
    ///
    /// # Errors
    /// [`VendorDirError::UnknownTemplate`], or [`VendorDirError::InvalidTemplate`] (which
    /// [`Config::load`] already rules out).
    pub fn template_spec(&self, product: &str, name: &str) -> Result<LicenseSpec, VendorDirError> {
        let table = self
            .products
            .get(product)
            .and_then(|p| p.templates.get(name))
            .ok_or_else(|| VendorDirError::UnknownTemplate {
                product: product.to_string(),
                template: name.to_string(),
            })?;
        // The path is the file name only; `Config::load` reports the full path.
        let fault = |field: Option<String>, message: String| {
            VendorDirError::InvalidTemplate(Box::new(TemplateFault {
                path: PathBuf::from(CONFIG_FILE),
                line: None,
                product: product.to_string(),
                template: name.to_string(),
                field,
                message,
            }))
        };
        let invalid = |message: String| fault(None, message);
        // Through `toml`, so the template is read exactly as `--template FILE` would be.
        let read = |t: toml::Table| -> Result<LicenseSpec, String> {
            toml::Value::Table(t)
                .try_into()
                .map_err(|e: toml::de::Error| e.to_string())
        };
        let mut spec: LicenseSpec = read(table.clone()).map_err(|whole| {
            // A value without a place of its own in the parsed table: find the key at fault
            // by reading each alone, so the message (and its line) name that field.
            table
                .iter()
                .find_map(|(key, value)| {
                    let alone = read(toml::Table::from_iter([(key.clone(), value.clone())]));
                    // The field is named already: the parser's "in `key`" line goes.
                    alone.err().map(|message| {
                        let first = message.lines().next().unwrap_or_default().to_string();
                        fault(Some(key.clone()), first)
                    })
                })
                .unwrap_or_else(|| invalid(whole))
        })?;
        match &spec.product {
            Some(p) if p != product => {
                return Err(invalid(format!(
                    "names product {p:?} but sits under [products.{product}]"
                )));
            }
            Some(_) => {}
            None => spec.product = Some(product.to_string()),
        }
        if spec.issuer.is_none() {
            spec.issuer = Some(self.vendor.clone());
        }
        Ok(spec)
    }
}

/// The template key an [`IssueError::InvalidField`] names (issuing names some fields as
/// their flags are spelt: `not-before`, `feature`).
fn template_key(field: &'static str) -> &'static str {
    match field {
        "feature" => "features",
        "not-before" => "not_before",
        "maintenance-until" => "maintenance_until",
        "licensee-email" => "licensee_email",
        "licensee-name" => "licensee_name",
        "licensee-org" => "licensee_org",
        "product-key" => "product_key",
        other => other,
    }
}

/// The template key a TOML reader's message names: `` in `KEY` `` on its last line, or
/// `` unknown field `KEY` ``.
fn key_in_message(message: &str) -> Option<String> {
    let quoted = |s: &str| s.split('`').nth(1).map(str::to_string);
    let last = message.lines().last()?.trim();
    if let Some(rest) = last.strip_prefix("in ") {
        return quoted(rest);
    }
    message
        .split_once("unknown field ")
        .and_then(|(_, rest)| quoted(rest))
}

/// The line of `products.<product>.templates.<template>.<field>` in the text of
/// `airseal.toml` (or of the template itself, without a field or when the field has no
/// place of its own), from the spans of the TOML parser: however the file spells the keys
/// (quoted, dotted, inline tables), the line is where the value is.
fn template_line(text: &str, product: &str, template: &str, field: Option<&str>) -> Option<u32> {
    let table = ["products", product, "templates", template];
    field
        .and_then(|f| key_line(text, &[&table[..], &[f]].concat()))
        .or_else(|| key_line(text, &table))
}

/// The line of the value at `at` (a key's path: `["products", "p", "trial_template"]`) in the
/// text of `airseal.toml`, from the TOML parser's spans.
fn key_line(text: &str, at: &[&str]) -> Option<u32> {
    let doc = toml_edit::Document::parse(text).ok()?;
    let (first, rest) = at.split_first()?;
    let mut item = doc.get(first)?;
    for key in rest {
        item = item.get(key)?;
    }
    let span = item.span()?;
    let before = text.get(..span.start)?;
    u32::try_from(before.matches('\n').count() + 1).ok()
}

/// Finds the vendor folder: `explicit` (the `--vendor` flag) if given, else `env` (the
/// value of [`VENDOR_ENV`]) if set and non-empty, else the nearest folder at or above `cwd`
/// that holds [`CONFIG_FILE`]. Relative paths are taken from `cwd`. The environment is
/// passed in rather than read here so callers and tests control it.
///
/// # Errors
/// [`VendorDirError::NotFound`] saying where it looked.
pub fn find_vendor_dir(
    explicit: Option<&Path>,
    env: Option<OsString>,
    cwd: &Path,
) -> Result<PathBuf, VendorDirError> {
    let named = match (explicit, env.filter(|v| !v.is_empty())) {
        (Some(dir), _) => Some((cwd.join(dir), SearchOrigin::Flag)),
        (None, Some(dir)) => Some((cwd.join(dir), SearchOrigin::Env)),
        (None, None) => None,
    };
    if let Some((dir, origin)) = named {
        // An explicit folder is not searched upwards: naming one folder and silently
        // getting its parent would be a surprise.
        return if dir.join(CONFIG_FILE).is_file() {
            Ok(dir)
        } else {
            Err(VendorDirError::NotFound {
                searched: vec![dir],
                origin,
            })
        };
    }
    let mut searched = Vec::new();
    for dir in cwd.ancestors() {
        if dir.join(CONFIG_FILE).is_file() {
            return Ok(dir.to_path_buf());
        }
        searched.push(dir.to_path_buf());
    }
    Err(VendorDirError::NotFound {
        searched,
        origin: SearchOrigin::WorkingDir,
    })
}

/// The default `airseal.toml`, with the vendor id substituted for `{vendor}`. The example
/// product is commented out: the vendor names their own products.
const DEFAULT_CONFIG: &str = r#"# airseal vendor configuration.
#
# This folder holds everything airseal commands share: this file, the signing key in
# keys/ (create it with `airseal keygen`) and the ledger (ledger.sqlite3) that records
# every key and batch. Commands find it from the working directory upwards, from
# --vendor DIR, or from the AIRSEAL_VENDOR environment variable.

# The issuing key that signs by default instead of the root key keys/signing.key: a folder
# made by `airseal issuing-key create` (relative to this folder). Commands that sign take
# --issuing-key DIR to choose another, --root to use the root key. (Kept above `vendor`:
# top-level keys must come before every [table], including those `products add` appends.)
# issuing_key = "issuing/2027-q1"

# Your vendor id: the issuer (`iss`) of every license you sign.
vendor = {vendor}

# One [products.<id>] table per product; <id> is the product id apps check (`aud`).
#
# [products.photo-pro]
# name = "Photo Pro"
# # Product keys: X is one random symbol (5 bits), the last X a check symbol against typos.
# key_pattern = "XXXXX-XXXXX-XXXXX-XXXXX"
# # Only to read legacy Cryptolens SKGL keys:
# # skgl_secret = "..."
#
# # License templates, with the same fields as `airseal issue --template FILE`:
# [products.photo-pro.templates.pro]
# kind = "subscription"
# days = 365
# features = ["F1", "F3"]
# max_activations = 3
"#;

/// The default configuration text for `vendor_id`.
pub fn default_config(vendor_id: &str) -> String {
    // `toml` quotes and escapes the id, whatever it contains.
    DEFAULT_CONFIG.replace(
        "{vendor}",
        &toml::Value::String(vendor_id.to_string()).to_string(),
    )
}

/// What [`VendorDir::init_folder`] did.
#[derive(Clone, Debug)]
pub struct Initialized {
    /// The vendor folder.
    pub vendor: VendorDir,
    /// Whether `airseal.toml` was written (false: an existing one was kept as it was).
    pub config_written: bool,
    /// Whether a new ledger was created (false: the existing one was kept).
    pub ledger_created: bool,
}

/// An opened vendor folder: its location and its checked configuration.
#[derive(Clone, Debug)]
pub struct VendorDir {
    root: PathBuf,
    config: Config,
    /// A PostgreSQL ledger in place of the folder's `ledger.sqlite3`
    /// ([`VendorDir::with_database`]); a `LedgerLocation`, whose `Debug` hides the password.
    database: Option<LedgerLocation>,
}

impl VendorDir {
    /// Opens the vendor folder at `root`, reading and checking its `airseal.toml`.
    ///
    /// # Errors
    /// [`VendorDirError::NotFound`] when there is no `airseal.toml`, or the errors of
    /// [`Config::load`].
    pub fn open(root: &Path) -> Result<Self, VendorDirError> {
        let path = root.join(CONFIG_FILE);
        if !path.is_file() {
            return Err(VendorDirError::NotFound {
                searched: vec![root.to_path_buf()],
                origin: SearchOrigin::Flag,
            });
        }
        Ok(Self {
            root: root.to_path_buf(),
            config: Config::load(&path)?,
            database: None,
        })
    }

    /// [`find_vendor_dir`] then [`VendorDir::open`].
    ///
    /// # Errors
    /// Those of both.
    pub fn discover(
        explicit: Option<&Path>,
        env: Option<OsString>,
        cwd: &Path,
    ) -> Result<Self, VendorDirError> {
        Self::open(&find_vendor_dir(explicit, env, cwd)?)
    }

    /// Makes `dir` a vendor folder: writes a commented default `airseal.toml` for
    /// `vendor_id`, creates `keys/` and the ledger, and records the ledger's identity in
    /// `ledger.id`; the folder is owner-only (0700) and its files 0600, created so. The
    /// signing key is left to the caller (`airseal keygen`), so that this library never asks
    /// for a passphrase. See [`VendorDir::init_folder`].
    ///
    /// # Errors
    /// Those of [`VendorDir::init_folder`].
    pub fn init(dir: &Path, vendor_id: &str, force: bool) -> Result<Self, VendorDirError> {
        Self::init_folder(dir, Some(vendor_id), force).map(|i| i.vendor)
    }

    /// The vendor id `init` uses when none is given: the one `airseal.toml` in `dir` already
    /// holds, else the folder's name, else `vendor`.
    pub fn default_vendor_id(dir: &Path) -> String {
        if let Ok(config) = Config::load(&dir.join(CONFIG_FILE)) {
            return config.vendor;
        }
        // A folder that does not exist yet (`init acme`) is named all the same.
        fs::canonicalize(dir)
            .or_else(|_| std::path::absolute(dir))
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "vendor".into())
    }

    /// [`VendorDir::init`], saying what it did. `vendor_id` `None` is
    /// [`VendorDir::default_vendor_id`].
    ///
    /// On an existing vendor folder `init` is refused unless `force`; with `force` it keeps
    /// `airseal.toml` exactly as it is (products, templates, vendor id: a different
    /// `vendor_id` is refused), keeps the ledger and keys, and only creates what is missing.
    /// A missing ledger is created only when the folder records no ledger identity (a folder
    /// whose `ledger.id` names a ledger that is gone gets [`LedgerError::Missing`]: restore
    /// the backup).
    ///
    /// # Errors
    /// [`VendorDirError::AlreadyInitialized`], [`VendorDirError::VendorIdChange`],
    /// [`VendorDirError::InvalidConfig`] for an empty vendor id, [`VendorDirError::Io`], or
    /// [`VendorDirError::Ledger`].
    pub fn init_folder(
        dir: &Path,
        vendor_id: Option<&str>,
        force: bool,
    ) -> Result<Initialized, VendorDirError> {
        let config_path = dir.join(CONFIG_FILE);
        let vendor_id = vendor_id.map_or_else(|| Self::default_vendor_id(dir), str::to_string);
        if vendor_id.trim().is_empty() {
            return Err(VendorDirError::InvalidConfig {
                path: config_path,
                line: None,
                key: "vendor".into(),
                message: "must not be empty".into(),
            });
        }
        let existing = config_path.exists();
        if existing && !force {
            return Err(VendorDirError::AlreadyInitialized { path: config_path });
        }
        create_private_dir(dir).map_err(io_error(dir))?;
        let keys = dir.join(KEYS_DIR);
        create_private_dir(&keys).map_err(io_error(&keys))?;
        if existing {
            // Kept as it is: `init` never rewrites a vendor's products and templates.
            let config = Config::load(&config_path)?;
            if config.vendor != vendor_id {
                return Err(VendorDirError::VendorIdChange {
                    path: config_path,
                    existing: config.vendor,
                    asked: vendor_id,
                });
            }
        } else {
            let text = default_config(&vendor_id);
            // Checked before writing, so `init` can never leave a file that `open` refuses.
            Config::parse(&text, &config_path)?;
            // Through the one durable writer: a crash never leaves a half-written
            // configuration.
            airseal_verify::app::fs::write(
                &config_path,
                text.as_bytes(),
                airseal_verify::app::fs::Access::OwnerOnly,
                airseal_verify::app::fs::Mode::CreateNew,
            )
            .map_err(|e| io_error(&config_path)(e.into()))?;
        }
        let vendor = Self::open(dir)?;
        let ledger_created = match vendor.recorded_ledger_id()? {
            // The folder has a ledger: it must be there (never recreated silently).
            Some(_) => false,
            // A folder that records none gets one when there is none, or only an empty file.
            None => fs::metadata(vendor.ledger_path()).map_or(true, |m| m.len() == 0),
        };
        let ledger = if ledger_created {
            let ledger = Ledger::open(&vendor.ledger_path())?;
            vendor.record_ledger_id(&ledger)?;
            ledger
        } else {
            vendor.open_ledger()?
        };
        ledger.audit().record(
            "vendor.init",
            &vendor_id,
            &serde_json::json!({
                "forced": force,
                "config_written": !existing,
                "ledger_created": ledger_created,
            }),
        )?;
        Ok(Initialized {
            vendor,
            config_written: !existing,
            ledger_created,
        })
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The checked configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// `airseal.toml`.
    pub fn config_path(&self) -> PathBuf {
        self.root.join(CONFIG_FILE)
    }

    /// `keys/`.
    pub fn keys_dir(&self) -> PathBuf {
        self.root.join(KEYS_DIR)
    }

    /// `keys/signing.key`.
    pub fn signing_key_path(&self) -> PathBuf {
        self.keys_dir().join(SIGNING_KEY_FILE)
    }

    /// The default issuing key's folder (`issuing_key` in `airseal.toml`), resolved against
    /// the vendor folder.
    pub fn default_issuing_key(&self) -> Option<PathBuf> {
        self.config.issuing_key.as_ref().map(|p| self.root.join(p))
    }

    /// `keys/signing.pub`.
    pub fn public_key_path(&self) -> PathBuf {
        self.keys_dir().join(PUBLIC_KEY_FILE)
    }

    /// `ledger.sqlite3`.
    pub fn ledger_path(&self) -> PathBuf {
        self.root.join(LEDGER_FILE)
    }

    /// `ledger.id`.
    pub fn ledger_id_path(&self) -> PathBuf {
        self.root.join(LEDGER_ID_FILE)
    }

    /// The ledger identity this folder records in `ledger.id`; `None` for a folder made by
    /// an airseal older than identities (or whose record was removed).
    ///
    /// # Errors
    /// [`LedgerError::Io`] when the file exists but cannot be read.
    pub fn recorded_ledger_id(&self) -> Result<Option<String>, LedgerError> {
        let path = self.ledger_id_path();
        match fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text.trim().to_string())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(LedgerError::Io { path, source }),
        }
    }

    /// `revocations.seq`.
    pub fn revocation_seq_path(&self) -> PathBuf {
        self.root.join(REVOCATION_SEQ_FILE)
    }

    /// `revocations.latest`: the latest exported list, armored.
    pub fn latest_revocation_list_path(&self) -> PathBuf {
        self.root.join(LATEST_LIST_FILE)
    }

    /// The highest revocation list number this folder records as exported (0: none).
    ///
    /// # Errors
    /// [`LedgerError::Io`] when the file exists but cannot be read, [`LedgerError::Corrupt`]
    /// when it does not hold a number.
    pub fn exported_revocation_seq(&self) -> Result<u64, LedgerError> {
        let path = self.revocation_seq_path();
        match fs::read_to_string(&path) {
            Ok(text) => text.trim().parse().map_err(|_| LedgerError::Corrupt {
                what: format!(
                    "{}: {:?} is not a revocation list number",
                    path.display(),
                    text.trim()
                ),
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
            Err(source) => Err(LedgerError::Io { path, source }),
        }
    }

    /// Raises the recorded highest revocation list number to `seq` (never lowers it),
    /// through the durable writer: once this returns, no later list of this folder gets a
    /// number at or below `seq`, whatever ledger is restored.
    ///
    /// # Errors
    /// As [`VendorDir::exported_revocation_seq`], or [`LedgerError::Io`] when the file
    /// cannot be written.
    pub fn record_revocation_seq(&self, seq: u64) -> Result<(), LedgerError> {
        if seq <= self.exported_revocation_seq()? {
            return Ok(());
        }
        airseal_verify::app::fs::write(
            &self.revocation_seq_path(),
            format!("{seq}\n").as_bytes(),
            airseal_verify::app::fs::Access::OwnerOnly,
            airseal_verify::app::fs::Mode::Replace,
        )
        .map_err(LedgerError::from)
    }

    /// Writes `ledger`'s identity to `ledger.id` (owner-only, replacing any).
    fn record_ledger_id(&self, ledger: &Ledger) -> Result<(), LedgerError> {
        let path = self.ledger_id_path();
        let line = format!("{}\n", ledger.identity()?);
        airseal_verify::app::fs::write(
            &path,
            line.as_bytes(),
            airseal_verify::app::fs::Access::OwnerOnly,
            airseal_verify::app::fs::Mode::Replace,
        )
        .map_err(LedgerError::from)
    }

    /// Opens the ledger and records in it the products and templates of `airseal.toml`, so
    /// that batches can refer to them. Only changes are written (and audited), so calling
    /// this on every command is cheap.
    ///
    /// The ledger must be there and be the one the folder records (`SPEC.md` §17.5): it is
    /// never created here. A folder made before identities existed (no `ledger.id`) adopts
    /// its existing ledger once, audited as `ledger.adopt`.
    ///
    /// # Errors
    /// [`LedgerError::Missing`], [`LedgerError::Empty`], [`LedgerError::Foreign`], or
    /// another [`LedgerError`] from opening or writing the ledger.
    pub fn open_ledger(&self) -> Result<Ledger, LedgerError> {
        self.open_ledger_at(&self.ledger_location())
    }

    /// This folder with its ledger in the PostgreSQL database at `url` (`None`: the folder's
    /// own `ledger.sqlite3`). The folder keeps what must outlive any one ledger
    /// (`ledger.id`, `revocations.seq`, the issuing-key records) either way; the database
    /// must hold the ledger `ledger.id` names (copied there with
    /// [`crate::ledger::migrate::copy`]).
    #[must_use]
    pub fn with_database(mut self, url: Option<String>) -> Self {
        self.database = url.map(LedgerLocation::Postgres);
        self
    }

    /// Where this folder's ledger lives: the PostgreSQL database given to
    /// [`VendorDir::with_database`], else `ledger.sqlite3`.
    pub fn ledger_location(&self) -> LedgerLocation {
        match &self.database {
            Some(location) => location.clone(),
            None => LedgerLocation::File(self.ledger_path()),
        }
    }

    /// [`VendorDir::open_ledger`] for the ledger at `location`: it must exist and carry
    /// the identity this folder records (an empty PostgreSQL database is
    /// [`LedgerError::Empty`], as an empty file is).
    ///
    /// # Errors
    /// As [`VendorDir::open_ledger`].
    pub fn open_ledger_at(&self, location: &LedgerLocation) -> Result<Ledger, LedgerError> {
        let recorded = self.recorded_ledger_id()?;
        let (mut ledger, path) = match location {
            LedgerLocation::File(path) => (
                Ledger::open_identified(path, recorded.as_deref())?,
                path.clone(),
            ),
            LedgerLocation::Postgres(url) => (
                Ledger::open_postgres_identified(url, recorded.as_deref())?,
                PathBuf::from(location.to_string()),
            ),
        };
        let identity = ledger.identity()?;
        match recorded {
            Some(expected) if expected == identity => {}
            Some(expected) => {
                return Err(LedgerError::Foreign {
                    path,
                    expected,
                    found: Some(identity),
                });
            }
            None => {
                self.record_ledger_id(&ledger)?;
                ledger.audit().record(
                    "ledger.adopt",
                    &identity,
                    &serde_json::json!({
                        "before": { "recorded": null },
                        "after": { "recorded": identity },
                    }),
                )?;
            }
        }
        self.sync_ledger(&mut ledger)?;
        Ok(ledger)
    }

    /// Puts the backup at `from` in place of this folder's ledger (see
    /// [`crate::ledger::restore`]): it must carry the identity the folder records. The
    /// current ledger is kept aside, never deleted. A folder that records no identity adopts
    /// the backup's. The highest revocation list number the replaced ledger exported is
    /// carried into `revocations.seq` first, so the next list is numbered above it.
    ///
    /// # Errors
    /// Those of [`crate::ledger::restore`].
    pub fn restore_ledger(&self, from: &Path) -> Result<RestoreReport, LedgerError> {
        if let location @ LedgerLocation::Postgres(_) = self.ledger_location() {
            return Err(LedgerError::NotAFile {
                location: location.to_string(),
            });
        }
        let recorded = self.recorded_ledger_id()?;
        // The replaced ledger's lists stay numbered below the next one (lists exported
        // before `revocations.seq` existed): read when that ledger can still be read (a
        // damaged or missing one is what restoring is for, and does not stop it).
        let replaced_last = Ledger::open_identified(&self.ledger_path(), recorded.as_deref())
            .ok()
            .and_then(|current| current.revocations().last_exported().ok());
        if let Some(last) = replaced_last {
            self.record_revocation_seq(last)?;
        }
        let (mut ledger, report) =
            crate::ledger::restore(&self.ledger_path(), from, recorded.as_deref())?;
        if recorded.is_none() {
            self.record_ledger_id(&ledger)?;
        }
        self.sync_ledger(&mut ledger)?;
        Ok(report)
    }

    /// Records the products and templates of `airseal.toml` in `ledger` (see
    /// [`VendorDir::open_ledger`]), and merges the folder's record of issuing keys
    /// ([`crate::issuing::reconcile`]). Products and templates removed from the file stay in
    /// the ledger: it is a record of what existed.
    ///
    /// # Errors
    /// [`LedgerError`] from writing the ledger.
    pub fn sync_ledger(&self, ledger: &mut Ledger) -> Result<(), LedgerError> {
        for (id, product) in &self.config.products {
            ledger.products().ensure(id, product.name.as_deref())?;
            for (name, table) in &product.templates {
                ledger
                    .products()
                    .put_template(id, name, &table.to_string())?;
            }
        }
        // Issuing keys a restored ledger lost, or revocations it forgot (`SPEC.md` §18.10).
        crate::issuing::reconcile(self, ledger)?;
        Ok(())
    }
}

/// A product of `airseal.toml`, as `airseal products list` shows it (never its SKGL
/// secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProductSummary {
    /// The product id.
    pub id: String,
    /// Its name.
    pub name: Option<String>,
    /// Its key pattern (`None`: the default, [`airseal_core::productkey::DEFAULT_PATTERN`]).
    pub key_pattern: Option<String>,
    /// Its templates, by name.
    pub templates: Vec<String>,
    /// The template activation answers with.
    pub activation_template: Option<String>,
    /// The template of its trial.
    pub trial_template: Option<String>,
    /// Whether an SKGL secret is set (the secret itself is never shown).
    pub skgl_secret: bool,
    /// How many keys the ledger holds for it.
    pub keys: u64,
}

/// A template of `airseal.toml`, as `airseal templates list` shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TemplateSummary {
    /// The product it belongs to.
    pub product: String,
    /// Its name.
    pub name: String,
    /// What the product uses it for: `activation`, `trial`, both or neither.
    pub used_for: Vec<&'static str>,
    /// The license description it stands for (product and issuer filled in).
    pub spec: LicenseSpec,
}

impl VendorDir {
    /// The products of `airseal.toml`, by id, with their key counts from `ledger`.
    ///
    /// # Errors
    /// A ledger error.
    pub fn products(&self, ledger: &Ledger) -> Result<Vec<ProductSummary>, LedgerError> {
        self.config
            .products
            .iter()
            .map(|(id, p)| {
                Ok(ProductSummary {
                    id: id.clone(),
                    name: p.name.clone(),
                    key_pattern: p.key_pattern.clone(),
                    templates: p.templates.keys().cloned().collect(),
                    activation_template: p.activation_template.clone(),
                    trial_template: p.trial_template.clone(),
                    skgl_secret: p.skgl_secret.is_some(),
                    keys: ledger.keys().count(id)?,
                })
            })
            .collect()
    }

    /// The templates of `airseal.toml` (of one product, with `product`), by product and name.
    ///
    /// # Errors
    /// [`VendorDirError::UnknownProduct`].
    pub fn templates(&self, product: Option<&str>) -> Result<Vec<TemplateSummary>, VendorDirError> {
        if let Some(p) = product {
            if !self.config.products.contains_key(p) {
                return Err(VendorDirError::UnknownProduct {
                    product: p.to_string(),
                });
            }
        }
        let mut out = Vec::new();
        for (id, p) in &self.config.products {
            if product.is_some_and(|want| want != id) {
                continue;
            }
            for name in p.templates.keys() {
                let mut used_for = Vec::new();
                if p.activation_template.as_deref() == Some(name.as_str()) {
                    used_for.push("activation");
                }
                if p.trial_template.as_deref() == Some(name.as_str()) {
                    used_for.push("trial");
                }
                out.push(TemplateSummary {
                    product: id.clone(),
                    name: name.clone(),
                    used_for,
                    spec: self.config.template_spec(id, name)?,
                });
            }
        }
        Ok(out)
    }

    /// Declares a new product in `airseal.toml` (`[products.<id>]`, with its name and key
    /// pattern when given) and records it in `ledger`, audited as `product.add`. The file is
    /// edited in place: every comment, blank line and the order of what is there are kept;
    /// the new table goes at its end. The edited text is checked as a load would check it
    /// before it replaces the file (atomically), so a product that would make the file
    /// unreadable is never written. Returns the folder with its new configuration.
    ///
    /// # Errors
    /// [`VendorDirError::ProductExists`]; [`VendorDirError::InvalidConfig`] for an id with
    /// leading or trailing spaces or a bad pattern; [`VendorDirError::ConfigParse`] when the
    /// file no longer reads; [`VendorDirError::Io`]; a ledger error.
    pub fn add_product(
        &self,
        ledger: &mut Ledger,
        id: &str,
        name: Option<&str>,
        pattern: Option<&str>,
    ) -> Result<Self, VendorDirError> {
        let path = self.config_path();
        let invalid = |key: String, message: String| VendorDirError::InvalidConfig {
            path: path.clone(),
            line: None,
            key,
            message,
        };
        check_product_id(id).map_err(|e| invalid(format!("products.{id:?}"), e.to_string()))?;
        if let Some(n) = name {
            check_text("product name", n)
                .map_err(|e| invalid(format!("products.{id}.name"), e.to_string()))?;
        }
        if let Some(p) = pattern {
            // A product's pattern is what its random keys are made with: held to the same
            // entropy floor as `keys generate` holds it, now rather than at the first batch.
            Pattern::parse(p)
                .and_then(|parsed| parsed.require_bits(crate::keys::DEFAULT_RANDOM_BITS))
                .map_err(|e| invalid(format!("products.{id}.key_pattern"), e.to_string()))?;
        }
        // Read again: the file may have changed since this folder was opened.
        let text = fs::read_to_string(&path).map_err(io_error(&path))?;
        let current = Config::parse(&text, &path)?;
        if current.products.contains_key(id) {
            return Err(VendorDirError::ProductExists {
                path,
                product: id.to_string(),
            });
        }
        let parse_error = |message: String| VendorDirError::ConfigParse {
            path: path.clone(),
            message,
        };
        let mut doc: toml_edit::DocumentMut = text
            .parse()
            .map_err(|e: toml_edit::TomlError| parse_error(e.to_string()))?;
        let products = doc.entry("products").or_insert_with(|| {
            let mut t = toml_edit::Table::new();
            // `[products.<id>]` alone, without an empty `[products]` header above it.
            t.set_implicit(true);
            toml_edit::Item::Table(t)
        });
        let Some(products) = products.as_table_mut() else {
            return Err(invalid(
                "products".into(),
                "is not a table of its own ([products.<id>] sections); edit the file by hand"
                    .into(),
            ));
        };
        let mut table = toml_edit::Table::new();
        if let Some(n) = name {
            table.insert("name", toml_edit::value(n));
        }
        if let Some(p) = pattern {
            table.insert("key_pattern", toml_edit::value(p));
        }
        products.insert(id, toml_edit::Item::Table(table));
        let edited = doc.to_string();
        let config = Config::parse(&edited, &path)?;
        airseal_verify::app::fs::write(
            &path,
            edited.as_bytes(),
            airseal_verify::app::fs::Access::Default,
            airseal_verify::app::fs::Mode::Replace,
        )
        .map_err(|e| io_error(&path)(e.into()))?;
        let vendor = Self {
            root: self.root.clone(),
            config,
            database: self.database.clone(),
        };
        ledger.audit().record(
            "product.add",
            id,
            &serde_json::json!({
                "file": path.display().to_string(),
                "before": null,
                "after": { "id": id, "name": name, "key_pattern": pattern },
            }),
        )?;
        vendor.sync_ledger(ledger)?;
        Ok(vendor)
    }
}

/// Creates a folder readable only by its owner on Unix (it will hold the signing key, the
/// ledger and the configuration). A folder that already exists (`init .`) loses its group
/// and other permissions before anything is written into it.
fn create_private_dir(path: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
        builder.mode(0o700);
        builder.create(path)?;
        let mode = fs::metadata(path)?.permissions().mode();
        if mode & 0o077 != 0 {
            fs::set_permissions(path, fs::Permissions::from_mode(mode & 0o700))?;
        }
        Ok(())
    }
    #[cfg(not(unix))]
    builder.create(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The default configuration with its example product uncommented: the example must
    /// stay valid as the configuration format evolves.
    fn uncommented_example() -> String {
        let text = default_config("acme");
        let start = text.find("# [products.photo-pro]").unwrap();
        let (head, example) = text.split_at(start);
        let example: Vec<&str> = example
            .lines()
            .filter(|l| !l.starts_with("# #") && *l != "#")
            .map(|l| l.strip_prefix("# ").unwrap_or(l))
            .collect();
        format!("{head}{}\n", example.join("\n"))
    }

    #[test]
    fn default_config_parses_and_its_example_is_valid() {
        let config = Config::parse(&default_config("acme"), Path::new("airseal.toml")).unwrap();
        assert_eq!(config.vendor, "acme");
        assert!(config.products.is_empty());

        let text = uncommented_example();
        let config = Config::parse(&text, Path::new("airseal.toml")).unwrap();
        let product = &config.products["photo-pro"];
        assert_eq!(product.name.as_deref(), Some("Photo Pro"));
        assert_eq!(
            product.key_pattern.as_deref(),
            Some("XXXXX-XXXXX-XXXXX-XXXXX")
        );
        let spec = config.template_spec("photo-pro", "pro").unwrap();
        assert_eq!(spec.product.as_deref(), Some("photo-pro"));
        assert_eq!(spec.issuer.as_deref(), Some("acme"));
        assert_eq!(spec.days, Some(365));
    }

    #[test]
    fn vendor_id_is_escaped() {
        let config =
            Config::parse(&default_config("a \"quoted\"\\ vendor"), Path::new("x")).unwrap();
        assert_eq!(config.vendor, "a \"quoted\"\\ vendor");
    }

    #[test]
    fn bad_template_is_reported_with_product_and_name() {
        let text = "vendor = \"acme\"\n[products.p.templates.t]\ndays = \"soon\"\n";
        let e = Config::parse(text, Path::new("airseal.toml")).unwrap_err();
        assert!(matches!(&e, VendorDirError::InvalidTemplate(t)
            if t.product == "p" && t.template == "t"));
        assert!(e.to_string().contains("products.p.templates.t"), "{e}");

        let text = "vendor = \"acme\"\n[products.p.templates.t]\nfeaturez = []\n";
        let e = Config::parse(text, Path::new("airseal.toml")).unwrap_err();
        assert!(e.to_string().contains("featurez"), "{e}");

        let text = "vendor = \"acme\"\n[products.p.templates.t]\nproduct = \"q\"\n";
        let e = Config::parse(text, Path::new("airseal.toml")).unwrap_err();
        assert!(e.to_string().contains("sits under"), "{e}");
    }

    #[test]
    fn parse_errors_name_line_and_unknown_fields() {
        let e =
            Config::parse("vendor = \"acme\"\nproducts = 3\n", Path::new("c.toml")).unwrap_err();
        assert!(matches!(e, VendorDirError::ConfigParse { .. }));
        assert!(e.to_string().contains("line 2"), "{e}");

        let e = Config::parse("vendor = \"acme\"\nvendorr = 1\n", Path::new("c.toml")).unwrap_err();
        assert!(e.to_string().contains("vendorr"), "{e}");

        let e = Config::parse("vendor = \"\"\n", Path::new("c.toml")).unwrap_err();
        assert!(matches!(e, VendorDirError::InvalidConfig { .. }), "{e}");
    }

    #[test]
    fn the_portal_support_address_is_read_and_checked_with_its_line() {
        let path = Path::new("airseal.toml");
        let text = "vendor = \"acme\"\n\n[portal]\nsupport = \"help@acme.example\"\n";
        let config = Config::parse(text, path).unwrap();
        let support = config.portal.and_then(|p| p.support);
        assert_eq!(support.as_deref(), Some("help@acme.example"));
        assert_eq!(
            Config::parse("vendor = \"acme\"\n", path).unwrap().portal,
            None
        );

        let long = "x".repeat(PortalConfig::SUPPORT_MAX + 1);
        for (value, why) in [
            ("\"  \"".to_string(), "must not be empty"),
            ("\"a\\u0007b\"".to_string(), "control"),
            (format!("\"{long}\""), "longer than"),
        ] {
            let text = format!("vendor = \"acme\"\n[portal]\n\nsupport = {value}\n");
            match Config::parse(&text, path).unwrap_err() {
                VendorDirError::InvalidConfig {
                    line, key, message, ..
                } => {
                    assert_eq!((line, key.as_str()), (Some(4), "portal.support"), "{value}");
                    assert!(message.contains(why), "{message}");
                }
                other => panic!("{other:?}"),
            }
        }
        // An unknown field of the table is named, with its line, by the TOML reader.
        let e = Config::parse("vendor = \"acme\"\n[portal]\nsuport = \"x\"\n", path).unwrap_err();
        assert!(matches!(e, VendorDirError::ConfigParse { .. }), "{e}");
        assert!(
            e.to_string().contains("suport") && e.to_string().contains("line 3"),
            "{e}"
        );
    }

    #[test]
    fn templates_that_could_never_make_a_license_are_refused_at_load_with_their_line() {
        let cases = [
            ("expires = \"31/12/2027\"", "expires", "not a date"),
            (
                "features = [\"F1\", \"x=notadate\"]",
                "features",
                "not a date",
            ),
            ("max_activations = 0", "max_activations", "no machine"),
            ("machine_threshold = 0", "machine_threshold", "no machine"),
            ("kind = \"forever\"", "kind", "expected perpetual"),
            ("days = 30\nexpires = \"2030-01-01\"", "expires", "not both"),
            ("days = 0", "days", "0 days"),
            (
                "not_before = \"2028-01-01\"\nexpires = \"2027-01-01\"",
                "not_before",
                "could never be valid",
            ),
        ];
        for (body, field, says) in cases {
            let text = format!(
                "vendor = \"acme\"\n# a comment\n\n[products.p]\n[products.p.templates.t]\n\
                 licensee_name = \"x\"\n{body}\n"
            );
            let e = Config::parse(&text, Path::new("airseal.toml")).unwrap_err();
            let VendorDirError::InvalidTemplate(t) = &e else {
                panic!("{body}: {e}");
            };
            let (line, f) = (&t.line, &t.field);
            assert_eq!(f.as_deref(), Some(field), "{body}: {e}");
            // The line the field's value is on, counted in the text itself.
            let want = text
                .lines()
                .position(|l| l.starts_with(&format!("{field} ")))
                .map(|i| u32::try_from(i + 1).unwrap());
            assert_eq!(*line, want, "{body}: {e}");
            let shown = e.to_string();
            assert!(shown.contains(says), "{body}: {shown}");
            assert!(shown.contains("products.p.templates.t"), "{shown}");
        }
        // A value of the wrong type, a key that is not a template's: the line of that key.
        for (body, key) in [("days = \"soon\"", "days"), ("featurez = []", "featurez")] {
            let text =
                format!("vendor = \"acme\"\n[products.p.templates.t]\nkind = \"trial\"\n{body}\n");
            let e = Config::parse(&text, Path::new("airseal.toml")).unwrap_err();
            assert!(e.to_string().starts_with("airseal.toml line 4: "), "{e}");
            assert!(e.to_string().contains(key), "{e}");
        }
        // A template that is fine today and a fixed end that has passed are not errors.
        let text = "vendor = \"acme\"\n[products.p.templates.t]\nexpires = \"2001-01-01\"\n\
                    max_activations = \"unlimited\"\nfeatures = [\"F1=2030-01-01\"]\n";
        Config::parse(text, Path::new("airseal.toml")).unwrap();
    }

    #[test]
    fn bad_key_pattern_is_reported() {
        let text = "vendor = \"acme\"\n[products.p]\nkey_pattern = \"XX-I\"\n";
        let e = Config::parse(text, Path::new("c.toml")).unwrap_err();
        assert!(
            matches!(&e, VendorDirError::InvalidConfig { key, .. }
                if key == "products.p.key_pattern"),
            "{e}"
        );
    }

    #[test]
    fn find_prefers_flag_then_env_then_search() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let a = root.join("a");
        let b = root.join("b");
        let deep = a.join("x").join("y");
        fs::create_dir_all(&deep).unwrap();
        fs::create_dir_all(&b).unwrap();
        fs::write(a.join(CONFIG_FILE), "vendor = \"a\"\n").unwrap();
        fs::write(b.join(CONFIG_FILE), "vendor = \"b\"\n").unwrap();

        assert_eq!(find_vendor_dir(None, None, &deep).unwrap(), a);
        assert_eq!(
            find_vendor_dir(None, Some(b.clone().into()), &deep).unwrap(),
            b
        );
        assert_eq!(
            find_vendor_dir(Some(&b), Some(a.clone().into()), &deep).unwrap(),
            b
        );
        // Relative to the working directory; an empty variable counts as unset.
        assert_eq!(
            find_vendor_dir(Some(Path::new("b")), None, root).unwrap(),
            root.join("b")
        );
        assert_eq!(find_vendor_dir(None, Some("".into()), &deep).unwrap(), a);

        let e = find_vendor_dir(Some(&deep), None, root).unwrap_err();
        assert!(matches!(
            e,
            VendorDirError::NotFound {
                origin: SearchOrigin::Flag,
                ..
            }
        ));
        // The folder is named; the command that creates one is the CLI's advice to give.
        assert!(e.to_string().contains(&deep.display().to_string()), "{e}");
        let e = find_vendor_dir(None, Some(deep.clone().into()), root).unwrap_err();
        assert!(e.to_string().contains(VENDOR_ENV), "{e}");
    }

    #[test]
    fn search_failure_lists_where_it_looked() {
        let tmp = tempfile::tempdir().unwrap();
        let deep = tmp.path().join("p").join("q");
        fs::create_dir_all(&deep).unwrap();
        // Unless some folder above the temporary directory is a vendor folder.
        match find_vendor_dir(None, None, &deep) {
            Err(VendorDirError::NotFound { searched, origin }) => {
                assert_eq!(origin, SearchOrigin::WorkingDir);
                assert_eq!(searched.first(), Some(&deep));
                assert!(searched.contains(&tmp.path().to_path_buf()));
            }
            Ok(found) => assert!(!found.starts_with(tmp.path())),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn init_creates_the_layout_and_refuses_to_overwrite() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("vendor");
        let vendor = VendorDir::init(&dir, "acme", false).unwrap();
        assert_eq!(vendor.config().vendor, "acme");
        assert!(vendor.config_path().is_file());
        assert!(vendor.keys_dir().is_dir());
        assert!(vendor.ledger_path().is_file());
        assert!(!vendor.signing_key_path().exists());
        assert_eq!(
            vendor.public_key_path(),
            dir.join("keys").join("signing.pub")
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(vendor.keys_dir())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o700);
        }
        let ledger = vendor.open_ledger().unwrap();
        assert!(
            ledger
                .audit()
                .recent(10)
                .unwrap()
                .iter()
                .any(|e| e.action == "vendor.init" && e.subject == "acme")
        );
        drop(ledger);

        let e = VendorDir::init(&dir, "other", false).unwrap_err();
        assert!(
            matches!(e, VendorDirError::AlreadyInitialized { .. }),
            "{e}"
        );
        assert_eq!(VendorDir::open(&dir).unwrap().config().vendor, "acme");

        // With force, the configuration is kept: another vendor id is refused, the same
        // one changes nothing.
        let e = VendorDir::init(&dir, "other", true).unwrap_err();
        assert!(matches!(e, VendorDirError::VendorIdChange { .. }), "{e}");
        let vendor = VendorDir::init(&dir, "acme", true).unwrap();
        assert_eq!(vendor.config().vendor, "acme");
        assert!(VendorDir::init(&dir, " ", true).is_err());
    }

    #[test]
    fn add_product_keeps_the_file_as_written_and_refuses_what_would_not_load() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let vendor = VendorDir::init(dir, "acme", false).unwrap();
        let text = "# Our products.\nvendor = \"acme\"  # the issuer\n\n\
                    [products.a]   # first\nname = \"A\"\n";
        fs::write(dir.join(CONFIG_FILE), text).unwrap();
        let mut ledger = vendor.open_ledger().unwrap();
        let vendor = VendorDir::open(dir).unwrap();
        let added = vendor
            .add_product(
                &mut ledger,
                "b.c",
                Some("B"),
                Some("XXXXX-XXXXX-XXXXX-XXXXX"),
            )
            .unwrap();
        let after = fs::read_to_string(dir.join(CONFIG_FILE)).unwrap();
        assert!(after.starts_with(text), "{after}");
        assert!(
            after.ends_with(
                "\n[products.\"b.c\"]\nname = \"B\"\nkey_pattern = \"XXXXX-XXXXX-XXXXX-XXXXX\"\n"
            ),
            "{after}"
        );
        assert!(added.config().products.contains_key("b.c"));
        assert!(ledger.products().get("b.c").unwrap().is_some());
        for (id, pattern) in [("a", None), (" a", None), ("d", Some("XX-I"))] {
            assert!(
                vendor.add_product(&mut ledger, id, None, pattern).is_err(),
                "{id}"
            );
        }
        assert_eq!(fs::read_to_string(dir.join(CONFIG_FILE)).unwrap(), after);
    }

    #[test]
    fn open_ledger_records_products_and_templates() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        VendorDir::init(dir, "acme", false).unwrap();
        fs::write(dir.join(CONFIG_FILE), uncommented_example()).unwrap();
        let vendor = VendorDir::discover(None, None, dir).unwrap();
        let ledger = vendor.open_ledger().unwrap();
        let products = ledger.products().list().unwrap();
        assert_eq!(products.len(), 1);
        assert_eq!(products[0].id, "photo-pro");
        assert_eq!(products[0].name.as_deref(), Some("Photo Pro"));
        let body = ledger
            .products()
            .template("photo-pro", "pro")
            .unwrap()
            .unwrap();
        assert!(body.contains("days = 365"), "{body}");
        let audited = ledger.audit().recent(100).unwrap().len();
        drop(ledger);
        // Opening again changes nothing, so audits nothing.
        let ledger = vendor.open_ledger().unwrap();
        assert_eq!(ledger.audit().recent(100).unwrap().len(), audited);
    }
}
