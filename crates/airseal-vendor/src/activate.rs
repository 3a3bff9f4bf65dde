//! Offline activation, the vendor's half (`SPEC.md` §15): answering an activation request
//! with a license bound to the requesting machine, and freeing a seat when the machine
//! sends a deactivation proof.
//!
//! [`answer_request`] verifies the request (the device key's signature), checks the key
//! (known for the product, not blocked, revoked or expired), enforces the seat limit, and
//! records the seat and signs the response — all inside one ledger write transaction
//! ([`crate::ledger::Seats::begin`]), so two vendor processes can never grant more seats than the
//! limit, and a refused request changes nothing.
//!
//! # Which terms a key's license gets
//!
//! The license is the key's template, with the key's own terms (imported keys,
//! [`KeyTerms`]) laid over it. The template is, first found:
//!
//! 1. the template named in the key's terms;
//! 2. the `template` entry of the key's batch parameters (`airseal keys generate
//!    --template NAME`);
//! 3. the product's `activation_template` in `airseal.toml`.
//!
//! A key with terms but no template uses its terms alone; a key with neither is refused
//! ([`ActivationError::NoTemplate`]). Trials use the product's `trial_template`.
//!
//! The template's `max_activations` is the seat limit (absent: **1**, written into the
//! license so it states what was enforced); seats in use are the key's live seats plus the
//! `prior_activations` an import brought. The machine binding's threshold is the
//! template's `machine_threshold` (a request with fewer components is refused), else a
//! majority of the request's components (`n / 2 + 1`).
//!
//! # Idempotency and crashes
//!
//! A request from the machine that holds a live seat of the key (a reinstall, a lost
//! response file) is answered on that seat: the same license (id, expiry, features,
//! licensee) re-signed as a new document (new `cti`, issued now) echoing the new nonce and
//! bound to the request's components. No seat is used. "The machine" means the seat's
//! device key **and** at least the seat's threshold of the components it was taken with
//! (`SPEC.md` §17.2): the same device key with other components (a copied `device.key`) is
//! a new machine and needs a free seat. Every request's components are kept in the seat's
//! history ([`crate::ledger::Seats::component_history`]).
//!
//! # Terms
//!
//! A key's `days` count from its term's start (`SPEC.md` §17.1): its first activation, or
//! its creation with `term_starts = "creation"`, recorded in the ledger in the transaction
//! of the first activation and never moved by releases or new machines. A new seat's
//! license ends when the term does ([`crate::terms::term_end`]); after that end a new seat
//! is refused ([`ActivationError::TermEnded`]). The seat, its response and its audit
//! row commit together; the caller writes the response file after the commit, so a crash in
//! between leaves a recorded seat whose response is lost — re-running the same request (or
//! a new one from the same device) re-issues it without using another seat.

use std::fmt;
use std::path::Path;

use airseal_core::activation::{ActivationRequest, DeactivationProof, Purpose};
use airseal_core::armor::armor;
use airseal_core::cose::ObjectType;
use airseal_core::productkey::Pattern;
use airseal_core::{Expiry, KeyId, LicenseClaims, LicenseKind, Limit, MachineBinding, UnixTime};
use rand::Rng as _;

use crate::issue::{IssueError, Issuer, LicenseSpec};
use crate::ledger::{
    Activation, KeyStatus, KeyTerms, Ledger, LedgerError, Revocation, SeatKey, SeatTx,
};
use crate::time::format_time;
use crate::vendor_dir::{Config, VendorDirError};

/// Length of the `cti` of a re-issued response (as [`LicenseSpec::to_claims`] makes them).
const TOKEN_ID_BYTES: usize = 8;

/// Seats of a key: how many are in use and how many may be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seats {
    /// In use: live seats in this ledger plus seats an import says were used before.
    pub used: u64,
    /// The limit.
    pub limit: Limit,
}

impl fmt::Display for Seats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.limit {
            Limit::AtMost(n) => write!(f, "{} of {n}", self.used),
            Limit::Unlimited => write!(f, "{} (unlimited)", self.used),
        }
    }
}

/// A signed activation response and what it records.
#[derive(Clone, Debug)]
pub struct Response {
    /// The signed response (raw COSE bytes, `typ` `airseal-activation`).
    pub bytes: Vec<u8>,
    /// Its claims.
    pub claims: LicenseClaims,
    /// The activation (seat or trial) it belongs to, as recorded.
    pub activation: Activation,
    /// Whether it was re-issued on a seat the device already held (no seat used).
    pub reissued: bool,
    /// The key's seats after this activation (`None` for a trial).
    pub seats: Option<Seats>,
}

impl Response {
    /// The armored text form (`AIRSEAL ACTIVATION RESPONSE`).
    pub fn armored(&self) -> String {
        armor(ObjectType::ActivationResponse.armor_label(), &self.bytes)
    }

    /// The JSON summary `airseal activate --json` prints and the service returns (README,
    /// "JSON output"): what was answered, for which key and device, and the key's seats.
    pub fn summary(&self) -> serde_json::Value {
        let a = &self.activation;
        serde_json::json!({
            "result": if self.reissued { "reissued" } else { "activated" },
            "purpose": if a.purpose == Purpose::Trial { "trial" } else { "activation" },
            "product": a.product,
            "key": a.key,
            "license_id": a.license_id,
            "activation": a.id,
            "device_key_id": a.device_key_id().to_string(),
            "seats": seats_json(self.seats),
            "expires": self.claims.expires_at,
            "bytes": self.bytes.len(),
        })
    }
}

/// Seats (or deactivations) as JSON: `{"used": N, "limit": N | "unlimited"}`, or null.
fn seats_json(s: Option<Seats>) -> serde_json::Value {
    s.map_or(serde_json::Value::Null, |s| {
        serde_json::json!({
            "used": s.used,
            "limit": match s.limit {
                Limit::AtMost(n) => serde_json::json!(n),
                Limit::Unlimited => serde_json::json!("unlimited"),
            },
        })
    })
}

/// A seat given back.
#[derive(Clone, Debug)]
pub struct Deactivated {
    /// The activation, now deactivated.
    pub activation: Activation,
    /// The key's deactivations after this one and their limit (`None` for a trial).
    pub deactivations: Option<Seats>,
    /// The key's seats after this one was freed (`None` for a trial).
    pub seats: Option<Seats>,
}

impl Deactivated {
    /// The JSON summary `airseal deactivate --json` prints and the service returns; `by`
    /// says who freed the seat (`"proof"`, `"vendor"`).
    pub fn summary(&self, by: &str) -> serde_json::Value {
        let a = &self.activation;
        serde_json::json!({
            "result": "deactivated",
            "by": by,
            "product": a.product,
            "key": a.key,
            "license_id": a.license_id,
            "activation": a.id,
            "device_key_id": a.device_key_id().to_string(),
            "deactivations": seats_json(self.deactivations),
            "seats": seats_json(self.seats),
        })
    }
}

/// Why an activation request or a deactivation proof was refused. Nothing is recorded in
/// the ledger when one of these is returned.
#[non_exhaustive]
#[derive(Debug)]
pub enum ActivationError {
    /// A reason given by the vendor holds a control character (`SPEC.md` §17.6).
    Text(crate::ids::TextError),
    /// The request is not a valid activation request (malformed, wrong type, bad
    /// device-key signature).
    BadRequest(airseal_verify::Error),
    /// The proof is not a valid deactivation proof.
    BadProof(airseal_verify::Error),
    /// The product is not in `airseal.toml` (or not in the ledger).
    UnknownProduct {
        /// The product id the request names.
        product: String,
    },
    /// The key is not in the ledger for this product (not exactly, in canonical form, or
    /// loosely among imported keys: `SPEC.md` §15.6).
    UnknownKey {
        /// The product.
        product: String,
        /// The key as entered.
        key: String,
    },
    /// The key is not in the ledger and its check symbol does not match the product's key
    /// pattern: a symbol was mistyped (or two swapped). Told apart from [`Self::UnknownKey`]
    /// because the remedy differs: compare the key with the one sent to the customer.
    KeyTypo {
        /// The product.
        product: String,
        /// The key as entered.
        key: String,
    },
    /// The key as entered matches several imported keys once separators and case are
    /// ignored; the customer must enter it exactly.
    AmbiguousKey {
        /// The product.
        product: String,
        /// The key as entered.
        entered: String,
        /// The stored keys it matches.
        keys: Vec<String>,
    },
    /// The key is suspended (e.g. a payment dispute).
    KeyBlocked {
        /// The product.
        product: String,
        /// The key.
        key: String,
    },
    /// The key is revoked (its status, or the revocation list).
    KeyRevoked {
        /// The product.
        product: String,
        /// The key.
        key: String,
    },
    /// The license this seat holds is on the revocation list.
    LicenseRevoked {
        /// The license id.
        license_id: String,
    },
    /// The key's terms (or a data key itself) ended.
    KeyExpired {
        /// The key.
        key: String,
        /// When.
        at: UnixTime,
    },
    /// A data key that cannot be answered for: its MAC does not verify, or it does not say
    /// what its batch recorded at generation (`SPEC.md` §12.3).
    DataKey {
        /// The product.
        product: String,
        /// The key.
        key: String,
        /// What is wrong.
        problem: DataKeyProblem,
    },
    /// The license of the seat this device holds has expired: re-issuing it would not help.
    LicenseExpired {
        /// The license id.
        license_id: String,
        /// When.
        at: UnixTime,
    },
    /// Every seat of the key is in use.
    NoSeatsLeft {
        /// The key.
        key: String,
        /// Seats in use (including seats used before an import).
        used: u64,
        /// The limit.
        limit: u64,
    },
    /// Every seat of the key is in use, and the requesting device key holds one of them on
    /// another machine: too few of that seat's components are in the request (a copied
    /// device key, or a machine changed beyond its threshold), so it is not answered on that
    /// seat (`SPEC.md` §17.2).
    OtherMachine {
        /// The key.
        key: String,
        /// The license of the seat the device key holds.
        license_id: String,
        /// How many of that seat's components the request has.
        matched: u8,
        /// How many it needs.
        threshold: u8,
        /// Seats in use.
        used: u64,
        /// The limit.
        limit: u64,
    },
    /// The product has no `trial_template`.
    TrialsNotOffered {
        /// The product.
        product: String,
    },
    /// This machine (or device key) already had the product's trial.
    TrialUsed {
        /// The product.
        product: String,
        /// When the earlier trial began.
        at: UnixTime,
        /// Its license id.
        license_id: String,
    },
    /// No template says what this key's license contains.
    NoTemplate {
        /// The product.
        product: String,
        /// The key.
        key: String,
    },
    /// The key's term ended (`SPEC.md` §17.1): a new seat is refused; only an extension or
    /// a renewal moves the end.
    TermEnded {
        /// The key.
        key: String,
        /// When the term started (as recorded, or as this activation would have started it).
        started: UnixTime,
        /// When it ended.
        ended: UnixTime,
    },
    /// The request carries fewer fingerprint components than the template's
    /// `min_components`.
    BelowMinComponents {
        /// Components in the request.
        given: usize,
        /// The template's minimum.
        min: u8,
    },
    /// The template asks more components to match than the request has.
    TooFewComponents {
        /// Components in the request.
        given: usize,
        /// The template's `machine_threshold`.
        required: u8,
    },
    /// The template (or key terms) cannot be read or turned into a license.
    Template {
        /// The product.
        product: String,
        /// The template, if one was used.
        template: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// This deactivation proof was already accepted.
    ProofReplayed {
        /// The license it named.
        license_id: String,
        /// When it was accepted.
        accepted_at: UnixTime,
    },
    /// No activation matches the proof (license id, product, device key and token id).
    UnknownActivation {
        /// The product.
        product: String,
        /// The license id the proof names.
        license_id: String,
        /// Which part did not match.
        reason: &'static str,
    },
    /// The seat was already given back (by another proof, or by the vendor).
    AlreadyDeactivated {
        /// The license id.
        license_id: String,
        /// When.
        at: UnixTime,
    },
    /// The key's deactivations are used up: the seat stays taken.
    DeactivationLimit {
        /// The license id.
        license_id: String,
        /// Deactivations so far (including those before an import).
        used: u64,
        /// The limit.
        limit: u64,
    },
    /// Signing failed (the claims break a format rule).
    Issue(IssueError),
    /// The ledger could not be read or written.
    Ledger(LedgerError),
}

impl fmt::Display for ActivationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Text(e) => e.fmt(f),
            Self::BadRequest(e) => describe_refusal(f, "activation request", e),
            Self::BadProof(e) => describe_refusal(f, "deactivation proof", e),
            Self::UnknownProduct { product } => write!(
                f,
                "product {product:?} is not in airseal.toml: the request is for another vendor \
                 or product"
            ),
            Self::UnknownKey { product, key } => {
                write!(f, "key {key} is not in the ledger for product {product:?}")
            }
            Self::KeyTypo { product, key } => write!(
                f,
                "key {key} of {product:?} has a typo: its check symbol does not match (a symbol \
                 was mistyped or two were swapped)"
            ),
            Self::AmbiguousKey {
                product,
                entered,
                keys,
            } => write!(
                f,
                "key {entered:?} matches several imported keys of {product:?} once separators \
                 and case are ignored ({}); ask the customer to enter it exactly as issued",
                keys.join(", ")
            ),
            Self::KeyBlocked { product, key } => write!(f, "key {key} of {product:?} is suspended"),
            Self::KeyRevoked { product, key } => write!(f, "key {key} of {product:?} is revoked"),
            Self::LicenseRevoked { license_id } => {
                write!(f, "license {license_id} held by this device is revoked")
            }
            Self::KeyExpired { key, at } => {
                write!(f, "key {key} expired at {}", format_time(*at))
            }
            Self::DataKey {
                product,
                key,
                problem,
            } => match problem {
                DataKeyProblem::BadMac => write!(
                    f,
                    "data key {key} of {product:?} does not carry this vendor's MAC (forged, or \
                     made with a signing key this one replaced before airseal recorded data \
                     keys' terms)"
                ),
                DataKeyProblem::NotAsRecorded => write!(
                    f,
                    "data key {key} of {product:?} does not say what its batch recorded when it \
                     was generated"
                ),
                DataKeyProblem::NoPattern => write!(
                    f,
                    "data key {key} of {product:?}: its batch records no readable key pattern"
                ),
            },
            Self::LicenseExpired { license_id, at } => write!(
                f,
                "license {license_id} held by this device expired at {}",
                format_time(*at)
            ),
            Self::NoSeatsLeft { key, used, limit } => write!(
                f,
                "no seats left for key {key}: {used} of {limit} in use; free one with a \
                 deactivation proof from a machine that has it"
            ),
            Self::OtherMachine {
                key,
                license_id,
                matched,
                threshold,
                used,
                limit,
            } => write!(
                f,
                "no seats left for key {key} ({used} of {limit} in use): this device key holds \
                 the seat of license {license_id}, but the request has only {matched} of that \
                 seat's components ({threshold} needed), so it comes from another machine; \
                 free a seat for it, or ask from the machine that holds the seat"
            ),
            Self::TrialsNotOffered { product } => write!(
                f,
                "product {product:?} offers no trial (set trial_template under \
                 [products.{product}] in airseal.toml)"
            ),
            Self::TrialUsed {
                product,
                at,
                license_id,
            } => write!(
                f,
                "the trial of {product:?} was already used on this machine ({}, license \
                 {license_id})",
                format_time(*at)
            ),
            Self::NoTemplate { product, key } => write!(
                f,
                "no template for key {key}: neither the key's batch nor \
                 [products.{product}] activation_template in airseal.toml says what its \
                 license contains"
            ),
            Self::TermEnded {
                key,
                started,
                ended,
            } => write!(
                f,
                "the term of key {key} ended at {} (it started at {}): a new seat is not \
                 granted after the term's end",
                format_time(*ended),
                format_time(*started)
            ),
            Self::BelowMinComponents { given, min } => write!(
                f,
                "the request has {given} machine component{}; the template's min_components \
                 needs at least {min}",
                if *given == 1 { "" } else { "s" }
            ),
            Self::TooFewComponents { given, required } => write!(
                f,
                "the request has {given} machine component{}; the template's \
                 machine_threshold needs at least {required}",
                if *given == 1 { "" } else { "s" }
            ),
            Self::Template {
                product,
                template,
                message,
            } => match template {
                Some(t) => write!(f, "template {t:?} of {product:?}: {message}"),
                None => write!(f, "key terms of {product:?}: {message}"),
            },
            Self::ProofReplayed {
                license_id,
                accepted_at,
            } => write!(
                f,
                "this deactivation proof for license {license_id} was already accepted at {}: \
                 a proof frees a seat once",
                format_time(*accepted_at)
            ),
            Self::UnknownActivation {
                product,
                license_id,
                reason,
            } => write!(
                f,
                "no activation of {product:?} matches license {license_id}: {reason}"
            ),
            Self::AlreadyDeactivated { license_id, at } => write!(
                f,
                "license {license_id} was already deactivated at {}",
                format_time(*at)
            ),
            Self::DeactivationLimit {
                license_id,
                used,
                limit,
            } => write!(
                f,
                "deactivation limit reached for license {license_id}: {used} of {limit} used; \
                 the seat stays taken"
            ),
            Self::Issue(e) => e.fmt(f),
            Self::Ledger(e) => e.fmt(f),
        }
    }
}

/// Why a signed object of kind `what` was refused, naming that kind: the verifier's own
/// wording speaks of licenses, which would mislead here.
fn describe_refusal(
    f: &mut fmt::Formatter<'_>,
    what: &str,
    e: &airseal_verify::Error,
) -> fmt::Result {
    use airseal_verify::Error as E;
    match e {
        E::BadSignature => write!(
            f,
            "not a valid {what}: bad signature (the {what} was modified or forged)"
        ),
        E::WrongType { found } => {
            let article = if what.starts_with(['a', 'e', 'i', 'o', 'u']) {
                "an"
            } else {
                "a"
            };
            write!(
                f,
                "not a valid {what}: wrong type: the file holds a signed {found:?} object, not \
                 {article} {what}"
            )
        }
        other => write!(f, "not a valid {what}: {other}"),
    }
}

impl std::error::Error for ActivationError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::BadRequest(e) | Self::BadProof(e) => Some(e),
            Self::Issue(e) => Some(e),
            Self::Ledger(e) => Some(e),
            _ => None,
        }
    }
}

impl From<LedgerError> for ActivationError {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::UnknownProduct { product } => Self::UnknownProduct { product },
            LedgerError::AmbiguousEntry {
                product,
                entered,
                keys,
            } => Self::AmbiguousKey {
                product,
                entered,
                keys,
            },
            other => Self::Ledger(other),
        }
    }
}

impl From<IssueError> for ActivationError {
    fn from(e: IssueError) -> Self {
        Self::Issue(e)
    }
}

/// Why a data key is refused ([`ActivationError::DataKey`]).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataKeyProblem {
    /// The MAC does not verify with the MAC key that made the key (or, for a batch that
    /// recorded none, with this signing key's).
    BadMac,
    /// The key's features, days or creation day differ from its batch's record.
    NotAsRecorded,
    /// The batch records no readable pattern to decode the key with.
    NoPattern,
}

/// Answers an activation (or trial) request, `request_bytes` raw or armored, at `now`.
///
/// # Errors
/// An [`ActivationError`] naming why the request is refused; the ledger is then unchanged.
pub fn answer_request(
    ledger: &mut Ledger,
    issuer: &Issuer,
    config: &Config,
    request_bytes: &[u8],
    now: UnixTime,
) -> Result<Response, ActivationError> {
    let request = airseal_verify::activation::verify_request(request_bytes)
        .map_err(ActivationError::BadRequest)?;
    if !config.products.contains_key(&request.product) {
        return Err(ActivationError::UnknownProduct {
            product: request.product,
        });
    }
    match request.purpose {
        Purpose::Activation => activate_key(ledger, issuer, config, &request, now),
        Purpose::Trial => start_trial(ledger, issuer, config, &request, now),
    }
}

fn activate_key(
    ledger: &mut Ledger,
    issuer: &Issuer,
    config: &Config,
    request: &ActivationRequest,
    now: UnixTime,
) -> Result<Response, ActivationError> {
    let product = request.product.as_str();
    let entered = request.product_key.as_deref().unwrap_or_default();
    let tx = ledger.seats().begin()?;
    // From here on `key` is the key as stored: what the license carries and seats count.
    let (key, record) = usable_key(&tx, config, product, entered)?;
    let (spec, template) = key_spec(config, product, &key, &record)?;
    check_data_key_mac(&record, issuer, product, &key)?;
    check_key_expiry(&spec, product, &key, template.as_deref(), now)?;
    let threshold = threshold(&spec, request.components.len())?;
    let limit = spec.max_activations.map_or(Limit::AtMost(1), Limit::from);
    let prior = record.terms.as_ref().map_or(0, |t| t.prior_activations);
    let used = tx.live_seats(product, &key)?.saturating_add(prior);

    if let Some(seat) = tx.live_activation(
        product,
        Some(&key),
        &request.device_key,
        &request.components,
    )? {
        let (claims, bytes) = reissue(&tx, issuer, &seat, request, threshold, now)?;
        tx.record_reissue(&seat, request, &claims, &bytes, now)?;
        tx.commit()?;
        return finish(
            ledger,
            seat.id,
            claims,
            bytes,
            true,
            Some(Seats { used, limit }),
        );
    }
    if let Limit::AtMost(n) = limit {
        if used >= n {
            if let Some(seat) = tx.device_seat(product, &key, &request.device_key)? {
                return Err(ActivationError::OtherMachine {
                    key,
                    license_id: seat.license_id,
                    matched: airseal_core::claims::matched_components(
                        &seat.components,
                        &request.components,
                    ),
                    threshold: seat.threshold,
                    used,
                    limit: n,
                });
            }
            return Err(ActivationError::NoSeatsLeft {
                key,
                used,
                limit: n,
            });
        }
    }
    // The term is anchored (`SPEC.md` §17.1): its start as recorded, or, for a key never
    // activated, the start this activation gives it. A new seat never outlives the term.
    let starts = spec.term_starts.unwrap_or_default();
    let start = crate::terms::term_start(record.term_start, starts, record.created, now);
    let end = crate::terms::term_end(start, &spec)
        .map_err(|e| template_error(product, template.as_deref(), &e))?;
    if let Some(end) = end.filter(|end| *end <= now) {
        return Err(ActivationError::TermEnded {
            key,
            started: start,
            ended: end,
        });
    }
    let mut claims = spec
        .to_claims(issuer, now, &mut rand::rng())
        .map_err(|e| template_error(product, template.as_deref(), &e))?;
    claims.expires_at = end;
    claims.max_activations = Some(limit);
    bind(&mut claims, request, threshold);
    let bytes = issuer.issue_activation_response(claims.clone())?;
    let id = tx.insert_activation(request, Some(&key), &claims, &bytes, now)?;
    if record.term_start.is_none() {
        tx.start_term(product, &key, start, starts, id)?;
    }
    tx.commit()?;
    finish(
        ledger,
        id,
        claims,
        bytes,
        false,
        Some(Seats {
            used: used.saturating_add(1),
            limit,
        }),
    )
}

/// The key a request names, as stored, if it may be activated: found however it was typed
/// (else a typo or unknown), active, and not revoked.
fn usable_key(
    tx: &SeatTx<'_>,
    config: &Config,
    product: &str,
    entered: &str,
) -> Result<(String, SeatKey), ActivationError> {
    let unknown = || ActivationError::UnknownKey {
        product: product.to_string(),
        key: entered.to_string(),
    };
    let Some(found) = tx.find_key(product, entered)? else {
        // Not stored in any spelling: say "typo" when the product's pattern reads the entry
        // as a mistyped key, the same verdict `keys::classify` gives.
        let pattern = config
            .products
            .get(product)
            .and_then(|p| p.key_pattern.as_deref())
            .unwrap_or(airseal_core::productkey::DEFAULT_PATTERN);
        if let Ok(pattern) = Pattern::parse(pattern) {
            if crate::keys::read_key(&pattern, entered) == crate::keys::KeyReading::Typo {
                return Err(ActivationError::KeyTypo {
                    product: product.to_string(),
                    key: entered.to_string(),
                });
            }
        }
        return Err(unknown());
    };
    let key = found.key;
    let record = tx.key(product, &key)?.ok_or_else(unknown)?;
    match record.status {
        KeyStatus::Active => {}
        KeyStatus::Suspended => {
            return Err(ActivationError::KeyBlocked {
                product: product.to_string(),
                key,
            });
        }
        _ => {
            return Err(ActivationError::KeyRevoked {
                product: product.to_string(),
                key,
            });
        }
    }
    if let Some(Revocation::Key(_)) = tx.revocation(Some(&key), None)? {
        return Err(ActivationError::KeyRevoked {
            product: product.to_string(),
            key,
        });
    }
    Ok((key, record))
}

/// Everything [`answer_request`] checks that needs no signing key: the request verifies,
/// its product is configured, and its key may be activated (or the product offers trials).
/// Run it first so that a garbage file, an unknown or a blocked key costs nothing, before
/// the signing key's passphrase costs a key derivation (`SPEC.md` §15). Changes nothing;
/// [`answer_request`] checks all of it again under its lock.
///
/// # Errors
/// The [`ActivationError`] [`answer_request`] would return for these.
pub fn check_request(
    ledger: &mut Ledger,
    config: &Config,
    request_bytes: &[u8],
) -> Result<(), ActivationError> {
    let request = airseal_verify::activation::verify_request(request_bytes)
        .map_err(ActivationError::BadRequest)?;
    let Some(product) = config.products.get(&request.product) else {
        return Err(ActivationError::UnknownProduct {
            product: request.product,
        });
    };
    match request.purpose {
        Purpose::Trial if product.trial_template.is_none() => {
            Err(ActivationError::TrialsNotOffered {
                product: request.product,
            })
        }
        Purpose::Trial => Ok(()),
        Purpose::Activation => {
            let tx = ledger.seats().begin()?;
            let entered = request.product_key.as_deref().unwrap_or_default();
            usable_key(&tx, config, &request.product, entered)?;
            // Dropped without a commit: nothing written.
            Ok(())
        }
    }
}

fn start_trial(
    ledger: &mut Ledger,
    issuer: &Issuer,
    config: &Config,
    request: &ActivationRequest,
    now: UnixTime,
) -> Result<Response, ActivationError> {
    let product = request.product.as_str();
    let name = config
        .products
        .get(product)
        .and_then(|p| p.trial_template.clone())
        .ok_or_else(|| ActivationError::TrialsNotOffered {
            product: product.to_string(),
        })?;
    let mut spec = config
        .template_spec(product, &name)
        .map_err(|e| config_error(product, Some(&name), e))?;
    if spec.kind.is_none() {
        spec.kind = Some(LicenseKind::Trial.as_str().to_string());
    }
    let threshold = threshold(&spec, request.components.len())?;
    let tx = ledger.seats().begin()?;
    if let Some(trial) =
        tx.live_activation(product, None, &request.device_key, &request.components)?
    {
        // The same device asking again (a reinstall): the same trial, never a longer one.
        let (claims, bytes) = reissue(&tx, issuer, &trial, request, threshold, now)?;
        tx.record_reissue(&trial, request, &claims, &bytes, now)?;
        tx.commit()?;
        return finish(ledger, trial.id, claims, bytes, true, None);
    }
    if let Some(earlier) =
        tx.earlier_trial(product, &request.components, &request.device_key, threshold)?
    {
        return Err(ActivationError::TrialUsed {
            product: product.to_string(),
            at: earlier.activated_at,
            license_id: earlier.license_id,
        });
    }
    let mut claims = spec
        .to_claims(issuer, now, &mut rand::rng())
        .map_err(|e| template_error(product, Some(&name), &e))?;
    bind(&mut claims, request, threshold);
    let bytes = issuer.issue_activation_response(claims.clone())?;
    let id = tx.insert_activation(request, None, &claims, &bytes, now)?;
    tx.commit()?;
    finish(ledger, id, claims, bytes, false, None)
}

/// Reads back the activation as committed, for the caller's summary.
fn finish(
    ledger: &Ledger,
    id: i64,
    claims: LicenseClaims,
    bytes: Vec<u8>,
    reissued: bool,
    seats: Option<Seats>,
) -> Result<Response, ActivationError> {
    let activation = ledger.seats().get(id)?.ok_or_else(|| {
        ActivationError::Ledger(LedgerError::Corrupt {
            what: format!("activation {id} vanished after its commit"),
        })
    })?;
    Ok(Response {
        bytes,
        claims,
        activation,
        reissued,
        seats,
    })
}

/// Binds claims to the requesting machine and echoes its nonce.
/// How far before its issue time a response may start being valid, to absorb a customer
/// clock that is behind the vendor's (see [`bind`]).
pub const MAX_CLOCK_BEHIND: UnixTime = 30 * 86_400;

/// Binds the claims to the requesting machine: its components, threshold, device key and
/// nonce. Validity starts when the request was made (at most [`MAX_CLOCK_BEHIND`] before
/// issue) unless the template sets a start: the customer's clock may be behind the vendor's,
/// and a response that is "not yet valid" on arrival would be useless. Starting earlier
/// extends nothing, since expiry is counted from the issue time.
fn bind(claims: &mut LicenseClaims, request: &ActivationRequest, threshold: u8) {
    if claims.not_before.is_none() && request.created < claims.issued_at {
        let earliest = claims.issued_at.saturating_sub(MAX_CLOCK_BEHIND);
        claims.not_before = Some(request.created.max(earliest));
    }
    claims.machine = Some(MachineBinding {
        threshold,
        components: request.components.clone(),
        device_key: Some(KeyId::of_public_key(&request.device_key).0),
    });
    claims.request_nonce = Some(request.nonce);
    claims.normalize();
}

/// The same license as the seat's last response, signed again as a new document for a new
/// request: issued now (so a rotated signing key's validity window accepts it), a new
/// `cti`, the new nonce and components. Expiry and every term stay as first issued, so
/// asking again never extends a license or a trial.
fn reissue(
    tx: &SeatTx<'_>,
    issuer: &Issuer,
    seat: &Activation,
    request: &ActivationRequest,
    threshold: u8,
    now: UnixTime,
) -> Result<(LicenseClaims, Vec<u8>), ActivationError> {
    if let Some(Revocation::License(_)) = tx.revocation(None, Some(&seat.license_id))? {
        return Err(ActivationError::LicenseRevoked {
            license_id: seat.license_id.clone(),
        });
    }
    let mut claims = license_limits(seat)?;
    // Expiry plus grace, the rule the verifier applies (`airseal_core::expiry`): a license
    // the app still accepts is renewed, one it refuses is not.
    if let (Expiry::Expired { .. }, Some(exp)) = (claims.expiry(now), claims.expires_at) {
        return Err(ActivationError::LicenseExpired {
            license_id: seat.license_id.clone(),
            at: exp,
        });
    }
    claims.issued_at = issued_after(now, claims.issued_at);
    let mut token = vec![0u8; TOKEN_ID_BYTES];
    rand::rng().fill_bytes(&mut token);
    claims.token_id = token;
    bind(&mut claims, request, threshold);
    let bytes = issuer.issue_activation_response(claims.clone())?;
    Ok((claims, bytes))
}

/// The issue time of a seat's next response: `now`, or one second after the seat's last
/// response (`last`) when that is not earlier. Every response on a seat is issued later than
/// the one before, so the app, which refuses an older document for a license it holds
/// (`SPEC.md` §15.5, §15.8), always takes the newest: a re-issue in the same second as a
/// renewal, or from a vendor clock a little behind, is still installed.
pub(crate) fn issued_after(now: UnixTime, last: UnixTime) -> UnixTime {
    now.max(last.saturating_add(1))
}

/// The key's license description and the template it came from (see the module docs).
pub(crate) fn key_spec(
    config: &Config,
    product: &str,
    key: &str,
    record: &SeatKey,
) -> Result<(LicenseSpec, Option<String>), ActivationError> {
    let terms: Option<&KeyTerms> = record.terms.as_ref();
    let name = terms
        .and_then(|t| t.template.clone())
        .or_else(|| record.batch_params["template"].as_str().map(str::to_string))
        .or_else(|| {
            config
                .products
                .get(product)
                .and_then(|p| p.activation_template.clone())
        });
    let mut base = match &name {
        Some(n) => config
            .template_spec(product, n)
            .map_err(|e| config_error(product, Some(n), e))?,
        None if terms.is_some() => LicenseSpec {
            issuer: Some(config.vendor.clone()),
            ..LicenseSpec::default()
        },
        None => {
            return Err(ActivationError::NoTemplate {
                product: product.to_string(),
                key: key.to_string(),
            });
        }
    };
    data_key_facts_over(&mut base, record, product, key)?;
    let mut spec = match terms {
        Some(t) => t.over(base),
        None => base,
    };
    match &spec.product {
        Some(p) if p != product => {
            return Err(ActivationError::Template {
                product: product.to_string(),
                template: name,
                message: format!("names product {p:?}"),
            });
        }
        _ => spec.product = Some(product.to_string()),
    }
    spec.product_key = Some(key.to_string());
    Ok((spec, name))
}

/// Refuses a key whose terms end before `now` (a data key's own term is in `spec` by then,
/// [`data_key_facts_over`]).
fn check_key_expiry(
    spec: &LicenseSpec,
    product: &str,
    key: &str,
    template: Option<&str>,
    now: UnixTime,
) -> Result<(), ActivationError> {
    let ends = spec
        .fixed_expiry()
        .map_err(|e| template_error(product, template, &e))?;
    if let Some(at) = ends.filter(|at| *at <= now) {
        return Err(ActivationError::KeyExpired {
            key: key.to_string(),
            at,
        });
    }
    Ok(())
}

/// A data key's own term and features (`SPEC.md` §12.3), laid over `spec` (its template):
/// the one function that does it, so activation, renewal and `keys update` read the same
/// terms ([`key_spec`] calls it before the key's own terms, which an update sets, are laid
/// on top). The key's fields are decoded from the key itself and must say what its batch
/// recorded at generation. The license then ends when the key does, and carries exactly the
/// key's F1..F8: a template entry for one of them keeps its end date (`F3=2027-12-31`), the
/// template's other F-features are dropped, its named features kept. Other keys: unchanged.
fn data_key_facts_over(
    spec: &mut LicenseSpec,
    record: &SeatKey,
    product: &str,
    key: &str,
) -> Result<(), ActivationError> {
    use crate::keys::{DataKeyFacts, KeyKind, decode_data_key};
    if record.kind != crate::ledger::BatchKind::Generated(KeyKind::Data) {
        return Ok(());
    }
    let refused = |problem| ActivationError::DataKey {
        product: product.to_string(),
        key: key.to_string(),
        problem,
    };
    let pattern = record.batch_params["pattern"]
        .as_str()
        .and_then(|p| Pattern::parse(p).ok())
        .ok_or_else(|| refused(DataKeyProblem::NoPattern))?;
    let info = decode_data_key(&pattern, key, product, None);
    let facts: Option<DataKeyFacts> = record
        .batch_params
        .get("data_key")
        .and_then(|v| serde_json::from_value(v.clone()).ok());
    if facts.as_ref().is_some_and(|f| !f.matches(&info.fields)) {
        return Err(refused(DataKeyProblem::NotAsRecorded));
    }
    if let Some(at) = info.fields.expires_at() {
        spec.expires = Some(format_time(at));
        spec.days = None;
    }
    let f_number = |feature: &str| {
        let name = feature.split('=').next().unwrap_or_default();
        name.strip_prefix('F')
            .and_then(|d| d.parse::<u8>().ok())
            .filter(|n| (1..=8).contains(n))
    };
    let mut features: Vec<String> = spec
        .features
        .iter()
        .filter(|f| f_number(f).is_none())
        .cloned()
        .collect();
    for n in 1..=8u8 {
        if info.fields.features & (1 << (n - 1)) != 0 {
            let entry = spec
                .features
                .iter()
                .find(|f| f_number(f) == Some(n))
                .cloned()
                .unwrap_or_else(|| format!("F{n}"));
            features.push(entry);
        }
    }
    spec.features = features;
    Ok(())
}

/// Refuses a data key whose MAC this signing key's data-key MAC key does not verify, when
/// the MAC key that made it is this one (after a rotation the ledger's record is what
/// vouches for a key it holds). A MAC that does not verify is an error, never a skip; so is
/// a batch from before the generation records whose key this signing key's MAC does not
/// verify. Other keys pass.
fn check_data_key_mac(
    record: &SeatKey,
    issuer: &Issuer,
    product: &str,
    key: &str,
) -> Result<(), ActivationError> {
    use crate::keys::{DataKeyFacts, KeyKind, data_key_mac_key_id, decode_data_key};
    if record.kind != crate::ledger::BatchKind::Generated(KeyKind::Data) {
        return Ok(());
    }
    let refused = |problem| ActivationError::DataKey {
        product: product.to_string(),
        key: key.to_string(),
        problem,
    };
    let pattern = record.batch_params["pattern"]
        .as_str()
        .and_then(|p| Pattern::parse(p).ok())
        .ok_or_else(|| refused(DataKeyProblem::NoPattern))?;
    let mac_key = issuer.data_key_mac_key();
    let facts: Option<DataKeyFacts> = record
        .batch_params
        .get("data_key")
        .and_then(|v| serde_json::from_value(v.clone()).ok());
    let mac_checkable = facts
        .as_ref()
        .is_none_or(|f| f.mac_key_id == data_key_mac_key_id(&mac_key));
    if mac_checkable
        && decode_data_key(&pattern, key, product, Some(&mac_key)).mac_valid != Some(true)
    {
        return Err(refused(DataKeyProblem::BadMac));
    }
    Ok(())
}

/// The binding's threshold for a request with `n` components (1..=16, as decoding checked),
/// after the template's `min_components` (a request with fewer is refused).
fn threshold(spec: &LicenseSpec, n: usize) -> Result<u8, ActivationError> {
    if let Some(min) = spec.min_components.filter(|m| usize::from(m.get()) > n) {
        return Err(ActivationError::BelowMinComponents {
            given: n,
            min: min.get(),
        });
    }
    let majority = u8::try_from(n / 2 + 1).unwrap_or(u8::MAX);
    match spec.machine_threshold {
        None => Ok(majority),
        Some(t) if usize::from(t) > n || t == 0 => Err(ActivationError::TooFewComponents {
            given: n,
            required: t.max(1),
        }),
        Some(t) => Ok(t),
    }
}

fn template_error(product: &str, template: Option<&str>, e: &IssueError) -> ActivationError {
    ActivationError::Template {
        product: product.to_string(),
        template: template.map(str::to_string),
        message: e.to_string(),
    }
}

fn config_error(product: &str, template: Option<&str>, e: VendorDirError) -> ActivationError {
    ActivationError::Template {
        product: product.to_string(),
        template: template.map(str::to_string),
        message: e.to_string(),
    }
}

/// Accepts a deactivation proof (raw or armored) at `now`: frees the seat it names.
///
/// The proof must name a license of this ledger, signed by the device key that license is
/// bound to, with a token id that is one of the responses issued for it; its nonce must be
/// new. When the key's terms set a maximum number of deactivations (the license's
/// `max_deactivations`), deactivations so far — including those before an import — must be
/// below it, or the seat stays taken.
///
/// # Errors
/// An [`ActivationError`] naming why the proof is refused; the ledger is then unchanged.
pub fn deactivate(
    ledger: &mut Ledger,
    proof_bytes: &[u8],
    now: UnixTime,
) -> Result<Deactivated, ActivationError> {
    let proof: DeactivationProof = airseal_verify::activation::verify_deactivation(proof_bytes)
        .map_err(ActivationError::BadProof)?;
    let tx = ledger.seats().begin()?;
    if let Some(accepted_at) = tx.proof_accepted_at(&proof.nonce)? {
        return Err(ActivationError::ProofReplayed {
            license_id: proof.license_id,
            accepted_at,
        });
    }
    let unknown = |reason| ActivationError::UnknownActivation {
        product: proof.product.clone(),
        license_id: proof.license_id.clone(),
        reason,
    };
    let seat = tx
        .activation_by_license(&proof.product, &proof.license_id)?
        .ok_or_else(|| unknown("no license with this id was activated for this product"))?;
    if seat.device_key != proof.device_key {
        return Err(unknown("the proof is signed by another device key"));
    }
    if !tx.issued_token(seat.id, &proof.token_id)? {
        return Err(unknown(
            "the token id is not one of this license's responses",
        ));
    }
    if let Some(at) = seat.deactivated_at {
        return Err(ActivationError::AlreadyDeactivated {
            license_id: seat.license_id,
            at,
        });
    }
    let (mut deactivations, mut seats) = (None, None);
    if let Some(key) = &seat.key {
        let record = tx.key(&seat.product, key)?;
        let terms = record.as_ref().and_then(|r| r.terms.as_ref());
        let prior_d = terms.map_or(0, |t| t.prior_deactivations);
        let prior_a = terms.map_or(0, |t| t.prior_activations);
        let used = tx
            .deactivations(&seat.product, key)?
            .saturating_add(prior_d);
        let license = license_limits(&seat)?;
        let limit = license.max_deactivations.unwrap_or(Limit::Unlimited);
        if let Limit::AtMost(n) = limit {
            if used >= n {
                return Err(ActivationError::DeactivationLimit {
                    license_id: seat.license_id,
                    used,
                    limit: n,
                });
            }
        }
        deactivations = Some(Seats {
            used: used.saturating_add(1),
            limit,
        });
        let live = tx.live_seats(&seat.product, key)?;
        seats = Some(Seats {
            used: live.saturating_sub(1).saturating_add(prior_a),
            limit: license.max_activations.unwrap_or(Limit::AtMost(1)),
        });
    }
    tx.record_deactivation(&seat, &proof, now)?;
    tx.commit()?;
    let activation = ledger.seats().get(seat.id)?.ok_or_else(|| {
        ActivationError::Ledger(LedgerError::Corrupt {
            what: format!("activation {} vanished after its commit", seat.id),
        })
    })?;
    Ok(Deactivated {
        activation,
        deactivations,
        seats,
    })
}

/// The claims of a seat's last response (read back from the ledger, which signed it): its
/// limits are the ones the key was sold with, its expiry the one a renewal checks.
/// Frees a seat at the vendor's word, without a proof (`SPEC.md` §17.3): the seat's
/// activation id and the reason, audited by the ledger. Reports the key's seats and
/// deactivations afterwards, as [`deactivate`] does for a proof.
///
/// # Errors
/// [`ActivationError::Text`] for a reason with a control character; the ledger's (an
/// unknown or already freed activation among them).
pub fn release_seat(
    ledger: &mut Ledger,
    id: crate::ledger::ActivationId,
    reason: &str,
    now: UnixTime,
) -> Result<Deactivated, ActivationError> {
    crate::ids::check_text("reason", reason).map_err(ActivationError::Text)?;
    let activation = ledger.seats().release(id, reason, now)?;
    let (mut deactivations, mut seats) = (None, None);
    if let Some(key) = &activation.key {
        // Read in a transaction of its own, never committed: counts after the release.
        let tx = ledger.seats().begin()?;
        let record = tx.key(&activation.product, key)?;
        let terms = record.as_ref().and_then(|r| r.terms.as_ref());
        let prior_d = terms.map_or(0, |t| t.prior_deactivations);
        let prior_a = terms.map_or(0, |t| t.prior_activations);
        let license = license_limits(&activation)?;
        deactivations = Some(Seats {
            used: tx
                .deactivations(&activation.product, key)?
                .saturating_add(prior_d),
            limit: license.max_deactivations.unwrap_or(Limit::Unlimited),
        });
        seats = Some(Seats {
            used: tx
                .live_seats(&activation.product, key)?
                .saturating_add(prior_a),
            limit: license.max_activations.unwrap_or(Limit::AtMost(1)),
        });
    }
    Ok(Deactivated {
        activation,
        deactivations,
        seats,
    })
}

fn license_limits(seat: &Activation) -> Result<LicenseClaims, ActivationError> {
    let corrupt = |what: String| {
        ActivationError::Ledger(LedgerError::Corrupt {
            what: format!("activation {}: {what}", seat.id),
        })
    };
    LicenseClaims::read_unverified(&seat.response).map_err(|e| corrupt(e.to_string()))
}

/// Writes a response file durably and atomically, through [`airseal_verify::app::fs`]: a reader
/// never sees half a response, and a crash leaves either no file (or the old one) or the
/// whole new one. An existing file is replaced only with `force`.
///
/// # Errors
/// An I/O error; [`std::io::ErrorKind::AlreadyExists`] when `path` exists and not `force`.
pub fn write_response_file(path: &Path, contents: &[u8], force: bool) -> std::io::Result<()> {
    use airseal_verify::app::fs::{Access, Mode, WriteError, write};
    write(path, contents, Access::Default, Mode::replace_if(force)).map_err(|e| match e {
        WriteError::AlreadyExists { .. } => {
            std::io::Error::new(std::io::ErrorKind::AlreadyExists, "already exists")
        }
        other => other.into(),
    })
}
