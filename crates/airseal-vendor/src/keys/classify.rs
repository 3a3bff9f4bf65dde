//! What a typed key is: the verdict `airseal keys inspect` prints, and support tools give,
//! as a typed value (`SPEC.md` §12.1, §15.6).
//!
//! The order of the questions is the rule: a 136-symbol key is a signed key and is verified
//! with the vendor's own public key; an imported key keeps its own spelling and is found as
//! activation finds it (exactly, or ignoring case and separators); anything else is read
//! with each candidate product's pattern, which tells a typo (the check symbol fails) from a
//! key that is well-formed but was never issued, and from something that is not a key.

use airseal_core::cert::MaySign;
use std::fmt;
use std::io;
use std::path::PathBuf;

use airseal_core::productkey::{DEFAULT_PATTERN, Pattern};
use airseal_core::{KeyId, UnixTime};

use airseal_core::productkey::DataKeyFields;

use super::{KeyReading, decode_data_key, read_key};
use crate::ledger::{BatchId, KeyMatch, KeyStatus, Ledger, LedgerError};
use crate::vendor_dir::VendorDir;

/// What a typed key is.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub enum KeyVerdict {
    /// Not a key of any candidate product's pattern.
    Malformed {
        /// Why (the pattern reader's message).
        reason: String,
        /// The pattern it was last read with, if any could be read.
        pattern: Option<String>,
    },
    /// A pattern key whose check symbol fails: a symbol was mistyped or two were swapped.
    Typo {
        /// The product whose pattern read it.
        product: String,
    },
    /// A signed key whose check symbol fails.
    SignedTypo,
    /// Well-formed for the product's pattern, but not in the ledger.
    Unknown {
        /// The product.
        product: String,
        /// The key in display form.
        key: String,
        /// Its canonical form.
        canonical: String,
    },
    /// A signed key that does not verify (for any product asked about).
    InvalidSigned {
        /// Why: the verifier's verdict for the last product tried.
        error: airseal_verify::Error,
    },
    /// A key the ledger holds (or, for a signed key, one that verifies).
    Valid(Box<ValidKey>),
}

/// A key found valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidKey {
    /// The product.
    pub product: String,
    /// The key: as stored for an imported key, in display form for a pattern key, as typed
    /// for a signed key.
    pub key: String,
    /// The ledger's record of it, when there is one.
    pub record: Option<LedgerFacts>,
    /// What kind of key and what it carries.
    pub found: Found,
}

impl ValidKey {
    /// The key's standing: its status in the ledger (a revoked or suspended key is valid in
    /// form but not usable), active when the ledger holds no record of it (a signed key that
    /// verifies).
    pub fn status(&self) -> KeyStatus {
        self.record.as_ref().map_or(KeyStatus::Active, |r| r.status)
    }
}

/// What the ledger says about a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerFacts {
    /// The key's kind as recorded (`random`, `data`, `signed`, `import`).
    pub kind: String,
    /// Its batch.
    pub batch: BatchId,
    /// When the batch recorded it.
    pub created: UnixTime,
    /// Its status.
    pub status: KeyStatus,
}

/// How a valid key was recognised, with what it carries.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// An imported key, found exactly or ignoring case and separators.
    Imported {
        /// Whether the entry differs from the stored spelling.
        typed_differently: bool,
    },
    /// A key of the product's pattern.
    Pattern {
        /// The canonical form.
        canonical: String,
        /// For a data key: the fields it carries (not MAC-checked: that needs the issuer).
        data: Option<DataKeyFields>,
    },
    /// A signed key, verified with the vendor's public key.
    Signed {
        /// Feature bits enabled, by name (`F1`…).
        features: Vec<String>,
        /// When the key was made.
        created: UnixTime,
        /// When it expires, if it does.
        expires: Option<UnixTime>,
        /// Its serial.
        serial: u32,
        /// The signing key's id.
        signed_by: KeyId,
    },
}

/// Why a key could not be classified at all (a verdict is not an error).
#[non_exhaustive]
#[derive(Debug)]
pub enum ClassifyError {
    /// The ledger failed.
    Ledger(LedgerError),
    /// The vendor's public key (for signed keys) could not be read.
    PublicKeyIo {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// The vendor's public key file is not a public key.
    PublicKey {
        /// The file.
        path: PathBuf,
        /// The verifier's error.
        error: airseal_verify::Error,
    },
}

impl fmt::Display for ClassifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ledger(e) => e.fmt(f),
            Self::PublicKeyIo { path, source } => write!(f, "{}: {source}", path.display()),
            Self::PublicKey { path, error } => {
                write!(
                    f,
                    "{}: not a usable public key file: {error}",
                    path.display()
                )
            }
        }
    }
}

impl std::error::Error for ClassifyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Ledger(e) => Some(e),
            Self::PublicKeyIo { source, .. } => Some(source),
            Self::PublicKey { error, .. } => Some(error),
        }
    }
}

impl From<LedgerError> for ClassifyError {
    fn from(e: LedgerError) -> Self {
        Self::Ledger(e)
    }
}

/// Classifies `typed` for `product`, or for every product of the vendor's configuration.
///
/// # Errors
/// [`ClassifyError`] when the ledger or the vendor's public key cannot be read; what the key
/// is, even "malformed", is the [`KeyVerdict`].
pub fn classify(
    vendor: &VendorDir,
    ledger: &Ledger,
    product: Option<&str>,
    typed: &str,
    now: UnixTime,
) -> Result<KeyVerdict, ClassifyError> {
    let products: Vec<String> = match product {
        Some(p) => vec![p.to_string()],
        None => vendor.config().products.keys().cloned().collect(),
    };
    // A signed key by its length alone (136 symbols, separators aside): a short key with a
    // stray character is a pattern key typed wrong, not a damaged signed key.
    let symbols = typed
        .chars()
        .filter(|c| !matches!(c, '-' | ' ' | '\t' | '\r' | '\n'))
        .count();
    if symbols == airseal_core::signedkey::SYMBOLS {
        return classify_signed(vendor, ledger, &products, typed, now);
    }
    // A key imported from another platform keeps its own spelling and may follow no
    // pattern: find it as activation does (exactly, or ignoring case and separators).
    for product in &products {
        let Some(found) = ledger
            .keys()
            .find(product, typed)?
            .filter(|f| f.matched != KeyMatch::Canonical)
        else {
            continue;
        };
        let Some(r) = ledger.keys().info(Some(product), &found.key)? else {
            continue;
        };
        if r.kind.as_str() != "import" {
            continue;
        }
        return Ok(KeyVerdict::Valid(Box::new(ValidKey {
            product: product.clone(),
            key: found.key,
            record: Some(facts(&r)),
            found: Found::Imported {
                typed_differently: found.matched == KeyMatch::Loose,
            },
        })));
    }
    // Read the key with every candidate product's pattern, never just one of them: a key
    // the ledger holds wins, then a well-formed key no ledger holds, then a typo; "malformed"
    // names the product's pattern only when there was one product to judge by.
    let mut verdict = KeyVerdict::Malformed {
        reason: format!(
            "no product's pattern matches (tried {})",
            products.join(", ")
        ),
        pattern: None,
    };
    let mut unknown = None;
    for product in &products {
        let pattern_text = vendor
            .config()
            .products
            .get(product)
            .and_then(|p| p.key_pattern.clone())
            .unwrap_or_else(|| DEFAULT_PATTERN.into());
        let Ok(pattern) = Pattern::parse(&pattern_text) else {
            continue;
        };
        match read_key(&pattern, typed) {
            KeyReading::Malformed(e) => {
                if products.len() == 1 && matches!(verdict, KeyVerdict::Malformed { .. }) {
                    verdict = KeyVerdict::Malformed {
                        reason: e.to_string(),
                        pattern: Some(pattern_text),
                    };
                }
            }
            KeyReading::Typo => {
                if !matches!(verdict, KeyVerdict::Typo { .. }) {
                    verdict = KeyVerdict::Typo {
                        product: product.clone(),
                    };
                }
            }
            KeyReading::Canonical(c) => {
                let Some(r) = ledger.keys().info(Some(product), &c)? else {
                    // Another product may hold it: go on.
                    unknown.get_or_insert(KeyVerdict::Unknown {
                        product: product.clone(),
                        key: pattern.display(&c),
                        canonical: c,
                    });
                    continue;
                };
                let data = (r.kind.as_str() == "data")
                    .then(|| decode_data_key(&pattern, &c, product, None).fields);
                return Ok(KeyVerdict::Valid(Box::new(ValidKey {
                    product: product.clone(),
                    key: pattern.display(&c),
                    record: Some(facts(&r)),
                    found: Found::Pattern { canonical: c, data },
                })));
            }
        }
    }
    Ok(unknown.unwrap_or(verdict))
}

fn facts(r: &crate::ledger::KeyRecord) -> LedgerFacts {
    LedgerFacts {
        kind: r.kind.as_str().to_string(),
        batch: r.batch,
        created: r.created,
        status: r.status,
    }
}

/// A 136-symbol key: verified as a signed key with the vendor's own public key, or an
/// issuing key's certificate the ledger holds.
fn classify_signed(
    vendor: &VendorDir,
    ledger: &Ledger,
    products: &[String],
    typed: &str,
    now: UnixTime,
) -> Result<KeyVerdict, ClassifyError> {
    let path = vendor.public_key_path();
    let public = std::fs::read(&path).map_err(|source| ClassifyError::PublicKeyIo {
        path: path.clone(),
        source,
    })?;
    let mut trust = airseal_verify::TrustStore::new();
    trust
        .add_public_key_file(&public)
        .map_err(|error| ClassifyError::PublicKey { path, error })?;
    // Keys an issuing key signed (`SPEC.md` §18): its certificate, when the ledger holds it
    // and it allows signed keys, is trusted as an app would add it, revoked or not; the
    // ledger's revoked issuing keys then refuse what they signed, as an app holding the
    // current list would (`issuing_key_revoked`, not "unknown key"). One the root's public
    // key does not verify (another root's) is simply not trusted.
    let mut revoked = Vec::new();
    for cert in ledger.certificates().list()? {
        if cert.may_sign & MaySign::SIGNED_KEYS.0 != 0 {
            let _ = trust.add_certificate(&cert.certificate);
        }
        if cert.revoked_at.is_some() {
            revoked.push(cert.kid);
        }
    }
    let mut revocations = airseal_core::revocation::RevocationList {
        seq: ledger.revocations().contents()?.seq.saturating_sub(1),
        issued_at: now,
        licenses: Vec::new(),
        product_keys: Vec::new(),
        min_issued_at: Vec::new(),
        issuing_keys: revoked,
    };
    revocations.normalize();
    let canonical: String = typed
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_uppercase();
    let mut verdict = KeyVerdict::InvalidSigned {
        error: airseal_verify::Error::WrongProduct {
            expected: products.first().cloned().unwrap_or_default(),
            found: String::new(),
        },
    };
    for product in products {
        match trust.verify_signed_key_with_revocations(typed, product, now, &revocations) {
            Ok(k) => {
                let record = ledger.keys().info(Some(product), &canonical)?;
                return Ok(KeyVerdict::Valid(Box::new(ValidKey {
                    product: product.clone(),
                    key: typed.to_string(),
                    record: record.as_ref().map(facts),
                    found: Found::Signed {
                        features: (1..=8u8)
                            .map(|n| format!("F{n}"))
                            .filter(|f| k.feature_enabled(f))
                            .collect(),
                        created: k.created_at(),
                        expires: k.expires_at(),
                        serial: k.serial(),
                        signed_by: k.key_id(),
                    },
                })));
            }
            // Another product's key: try the next product.
            Err(e @ airseal_verify::Error::WrongProduct { .. }) => {
                verdict = KeyVerdict::InvalidSigned { error: e };
            }
            Err(airseal_verify::Error::Typo) => return Ok(KeyVerdict::SignedTypo),
            Err(error) => return Ok(KeyVerdict::InvalidSigned { error }),
        }
    }
    Ok(verdict)
}
