//! What a vendor does to one key over its life (`SPEC.md` §17.1): suspend it, reinstate it,
//! change its terms (seats, features, end, notes, metadata, customer). Cryptolens calls the
//! first two block and unblock, Cryptlex suspend; the third is their "extend", "add
//! feature", "machine limit", "notes".
//!
//! Each operation finds the key however it was typed (as activation does, `ledger/lookup.rs`),
//! then changes it in one ledger transaction ([`crate::ledger::Keys::change`]) with an audit
//! row holding the key before and after. The rules live here:
//!
//! * **active → suspended ⇄ active**; **revoked is final**: a revoked key is never
//!   reinstated, suspended or given new terms. Suspending or reinstating a key that is
//!   already so changes and audits nothing.
//! * A key's terms are its own record laid over its template (`ledger/terms.rs`,
//!   [`KeyTerms::over`]); an update writes only that record, and activation reads the new
//!   terms from the next request on. Licenses already signed keep what they say.
//! * The terms after an update are checked exactly as a template is when `airseal.toml`
//!   loads ([`LicenseSpec::check`]), so an update can never leave a key that activation
//!   would refuse for its terms.
//! * Lowering the seat limit below the seats in use is allowed: the machines that hold a
//!   seat keep it (and their re-issues), no new seat is given until enough are released.
//!   The report says so ([`UpdateReport::over_limit`]).

use std::fmt;

use airseal_core::{Limit, UnixTime};
use chrono::{DateTime, NaiveDate};
use serde::Serialize;
use serde_json::{Value, json};

use crate::activate::ActivationError;
use crate::issue::{IssueError, LicenseSpec, LimitSpec, MetaSpec};
use crate::ledger::{KeyEdit, KeyState, KeyStatus, KeyTerms, Ledger, LedgerError, feature_name};
use crate::time::{EndOfDay, end_after_days, format_time, parse_time, require_days};
use crate::vendor_dir::Config;

/// Why a key operation was refused.
#[non_exhaustive]
#[derive(Debug)]
pub enum KeyOpError {
    /// The ledger failed (or does not know the product).
    Ledger(LedgerError),
    /// No product's ledger holds a key typed so.
    UnknownKey {
        /// The key as typed.
        entered: String,
    },
    /// Several products hold a key typed so.
    AmbiguousKey {
        /// The key as typed.
        entered: String,
        /// The products that have it.
        products: Vec<String>,
    },
    /// The key is revoked: final, nothing more is done to it.
    Revoked {
        /// The product.
        product: String,
        /// The key as stored.
        key: String,
    },
    /// A new end of the key's term that is not after now: it would end the licenses of
    /// paying customers at once (stopping a key is suspending or revoking it).
    EndInPast {
        /// The key as stored.
        key: String,
        /// The end given.
        at: UnixTime,
    },
    /// The customer is not in the ledger.
    UnknownCustomer {
        /// The id given.
        id: i64,
    },
    /// A value of the update is wrong, or two of them contradict each other.
    Invalid {
        /// The term it concerns (`max_activations`, `features`, `expires`, …).
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The key's template cannot be read.
    Template(Box<ActivationError>),
}

impl fmt::Display for KeyOpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ledger(e) => e.fmt(f),
            Self::UnknownKey { entered } => {
                write!(f, "key {entered:?} is not in the ledger for any product")
            }
            Self::AmbiguousKey { entered, products } => write!(
                f,
                "key {entered:?} exists for several products ({}); name the product",
                products.join(", ")
            ),
            Self::Revoked { product, key } => write!(
                f,
                "key {key} of {product:?} is revoked; a revoked key stays revoked"
            ),
            Self::UnknownCustomer { id } => write!(f, "there is no customer {id}"),
            Self::EndInPast { key, at } => write!(
                f,
                "key {key}: the new end {} is not in the future; it would end its licenses at \
                 once",
                format_time(*at)
            ),
            Self::Invalid { field, message } => write!(f, "{field}: {message}"),
            Self::Template(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for KeyOpError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Ledger(e) => Some(e),
            Self::Template(e) => Some(e.as_ref()),
            _ => None,
        }
    }
}

impl From<LedgerError> for KeyOpError {
    fn from(e: LedgerError) -> Self {
        Self::Ledger(e)
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> KeyOpError {
    KeyOpError::Invalid {
        field,
        message: message.into(),
    }
}

/// A key found in the ledger: its product and its stored spelling.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KeyRef {
    /// The product.
    pub product: String,
    /// The key exactly as the ledger stores it.
    pub key: String,
}

/// The stored key `entered` means, for `product` or, without one, for whichever product of
/// the ledger holds it (exactly, in canonical form, or an imported key's loose form).
///
/// # Errors
/// [`KeyOpError::UnknownKey`], [`KeyOpError::AmbiguousKey`], or a ledger error.
pub fn find_key(
    ledger: &Ledger,
    product: Option<&str>,
    entered: &str,
) -> Result<KeyRef, KeyOpError> {
    let products: Vec<String> = match product {
        Some(p) => vec![p.to_string()],
        None => ledger
            .products()
            .list()?
            .into_iter()
            .map(|p| p.id)
            .collect(),
    };
    let mut found = Vec::new();
    for product in products {
        if let Some(k) = ledger.keys().find(&product, entered)? {
            found.push(KeyRef {
                product,
                key: k.key,
            });
        }
    }
    match found.len() {
        0 => Err(KeyOpError::UnknownKey {
            entered: entered.to_string(),
        }),
        1 => Ok(found.swap_remove(0)),
        _ => Err(KeyOpError::AmbiguousKey {
            entered: entered.to_string(),
            products: found.into_iter().map(|k| k.product).collect(),
        }),
    }
}

/// What a suspend or reinstate did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StatusChange {
    /// The key.
    #[serde(flatten)]
    pub key: KeyRef,
    /// Its status before.
    pub from: &'static str,
    /// Its status now.
    pub to: &'static str,
    /// Whether anything changed (suspending a suspended key changes nothing).
    pub changed: bool,
}

/// Suspends a key (Cryptolens "block"): activation refuses it until it is reinstated;
/// licenses already delivered keep working offline until they end or are revoked. Audited as
/// `key.suspend` with the status before and after and the reason.
///
/// # Errors
/// As [`find_key`]; [`KeyOpError::Revoked`] for a revoked key.
pub fn suspend(
    ledger: &Ledger,
    product: Option<&str>,
    entered: &str,
    reason: Option<&str>,
) -> Result<StatusChange, KeyOpError> {
    set_status(ledger, product, entered, KeyStatus::Suspended, reason)
}

/// Makes a suspended key active again. Audited as `key.reinstate`.
///
/// # Errors
/// As [`find_key`]; [`KeyOpError::Revoked`] for a revoked key (revocation is final).
pub fn reinstate(
    ledger: &Ledger,
    product: Option<&str>,
    entered: &str,
) -> Result<StatusChange, KeyOpError> {
    set_status(ledger, product, entered, KeyStatus::Active, None)
}

fn set_status(
    ledger: &Ledger,
    product: Option<&str>,
    entered: &str,
    to: KeyStatus,
    reason: Option<&str>,
) -> Result<StatusChange, KeyOpError> {
    if let Some(reason) = reason {
        crate::ids::check_text("reason", reason).map_err(|e| invalid("reason", e.to_string()))?;
    }
    let key = find_key(ledger, product, entered)?;
    ledger.keys().change(&key.product, &key.key, |state| {
        let from = state.key.status;
        if from == KeyStatus::Revoked {
            return Err(KeyOpError::Revoked {
                product: key.product.clone(),
                key: key.key.clone(),
            });
        }
        let change = (from != to).then(|| KeyEdit {
            status: to,
            terms: None,
            action: if to == KeyStatus::Suspended {
                "key.suspend"
            } else {
                "key.reinstate"
            },
            detail: json!({
                "before": { "status": from.as_str() },
                "after": { "status": to.as_str() },
                "reason": reason,
            }),
        });
        let done = StatusChange {
            key: key.clone(),
            from: from.as_str(),
            to: to.as_str(),
            changed: change.is_some(),
        };
        Ok((change, done))
    })
}

/// How an update moves the end of a key's term.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TermChange {
    /// Ends at this date (`YYYY-MM-DD`, end of that day UTC) or RFC 3339 instant; replaces a
    /// relative term.
    Expires(String),
    /// This many days more: added to the `days` of a relative term, or to the fixed end.
    Extend(u32),
}

/// A change to a key's terms: every field left empty leaves that term as it is.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KeyUpdate {
    /// The seat limit.
    pub max_activations: Option<LimitSpec>,
    /// The deactivation limit.
    pub max_deactivations: Option<LimitSpec>,
    /// Features to add (`F1`..`F8` or a name, optionally `=DATE`); one already there is
    /// replaced (a new end date).
    pub add_features: Vec<String>,
    /// Features to remove, by name.
    pub remove_features: Vec<String>,
    /// The end of the term.
    pub term: Option<TermChange>,
    /// New notes (empty text clears them).
    pub notes: Option<String>,
    /// The customer to link the key to.
    pub customer: Option<i64>,
    /// Metadata to set: name and value (a whole number is stored as one).
    pub set_metadata: Vec<(String, String)>,
    /// Metadata names to remove.
    pub remove_metadata: Vec<String>,
}

/// What [`update`] did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UpdateReport {
    /// The key.
    #[serde(flatten)]
    pub key: KeyRef,
    /// Its status.
    pub status: &'static str,
    /// Whether anything changed.
    pub changed: bool,
    /// What the key's licenses said before (its terms over its template).
    pub before: Value,
    /// What they say from now on.
    pub after: Value,
    /// Seats in use (live, plus those used before an import).
    pub seats_in_use: u64,
    /// More seats are in use than the new limit allows: those machines keep their seats,
    /// no new seat is given until enough are released.
    pub over_limit: bool,
}

/// Changes a key's terms (see the module docs). Audited as `key.update` with the license
/// description, notes and customer before and after.
///
/// # Errors
/// As [`find_key`]; [`KeyOpError::Revoked`]; [`KeyOpError::Invalid`] naming the term;
/// [`KeyOpError::UnknownCustomer`]; [`KeyOpError::Template`] when the key's template cannot
/// be read; [`KeyOpError::EndInPast`] when a new end (`TermChange::Expires`) is not after
/// `now`.
pub fn update(
    ledger: &Ledger,
    config: &Config,
    product: Option<&str>,
    entered: &str,
    change: &KeyUpdate,
    now: UnixTime,
) -> Result<UpdateReport, KeyOpError> {
    contradictions(change)?;
    if let Some(id) = change.customer {
        if ledger.customers().get(id)?.is_none() {
            return Err(KeyOpError::UnknownCustomer { id });
        }
    }
    let key = find_key(ledger, product, entered)?;
    if let Some(TermChange::Expires(date)) = &change.term {
        let at = parse_time("expires", date, EndOfDay::Yes).map_err(issue_error)?;
        if at <= now {
            return Err(KeyOpError::EndInPast {
                key: key.key.clone(),
                at,
            });
        }
    }
    ledger.keys().change(&key.product, &key.key, |state| {
        if state.key.status == KeyStatus::Revoked {
            return Err(KeyOpError::Revoked {
                product: key.product.clone(),
                key: key.key.clone(),
            });
        }
        let before = state.key.terms.clone().unwrap_or_default();
        let base = template_of(config, &key, state, before.template.clone())?;
        let after = apply(&before, &base, change)?;
        let effective = after.over(base.clone());
        effective.check().map_err(|e| match e {
            IssueError::InvalidField { field, message } => invalid(field, message),
            IssueError::InvalidClaims(why) => invalid("terms", why),
            IssueError::Scope(e) => invalid("terms", e.to_string()),
        })?;
        let prior = before.prior_activations;
        let seats_in_use = state.live_seats.saturating_add(prior);
        let over_limit = match effective
            .max_activations
            .map_or(Limit::AtMost(1), Limit::from)
        {
            Limit::AtMost(n) => seats_in_use > n,
            _ => false,
        };
        // A key's own link, else its batch's (`keys generate --customer`).
        let batch_customer = state.key.batch_params["customer"].as_i64();
        let describe = |t: &KeyTerms| {
            json!({
                "license": t.over(base.clone()),
                "notes": t.notes,
                "customer": t.customer.or(batch_customer),
            })
        };
        let report = UpdateReport {
            key: key.clone(),
            status: state.key.status.as_str(),
            changed: after != before,
            before: describe(&before),
            after: describe(&after),
            seats_in_use,
            over_limit,
        };
        let write = report.changed.then(|| KeyEdit {
            status: state.key.status,
            terms: Some(after),
            action: "key.update",
            detail: json!({
                "before": report.before,
                "after": report.after,
                "seats_in_use": seats_in_use,
                "over_limit": over_limit,
            }),
        });
        Ok((write, report))
    })
}

/// Options that cannot both be meant.
fn contradictions(c: &KeyUpdate) -> Result<(), KeyOpError> {
    if let Some(notes) = &c.notes {
        crate::ids::check_text("notes", notes).map_err(|e| invalid("notes", e.to_string()))?;
    }
    for f in &c.add_features {
        let name = feature_name(f);
        if name.is_empty() {
            return Err(invalid("features", "empty feature name"));
        }
        if c.remove_features.iter().any(|r| feature_name(r) == name) {
            return Err(invalid(
                "features",
                format!("{name:?} is both added and removed"),
            ));
        }
    }
    for (name, _) in &c.set_metadata {
        if name.is_empty() {
            return Err(invalid("metadata", "empty metadata name"));
        }
        if c.remove_metadata.contains(name) {
            return Err(invalid(
                "metadata",
                format!("{name:?} is both set and removed"),
            ));
        }
    }
    // (0 deactivations is a real limit: seats that never move.)
    if c.max_activations == Some(LimitSpec::Count(0)) {
        return Err(invalid(
            "max_activations",
            "0 would let no machine activate: suspend the key instead",
        ));
    }
    if c.term == Some(TermChange::Extend(0)) {
        return Err(invalid("extend", "extending by 0 days changes nothing"));
    }
    Ok(())
}

/// The template a key's terms are laid over: its own template, else its batch's, else the
/// product's activation template, exactly as activation picks it; no template at all is an
/// empty one (the key's terms alone, as activation reads an imported key).
fn template_of(
    config: &Config,
    key: &KeyRef,
    state: &KeyState,
    template: Option<String>,
) -> Result<LicenseSpec, KeyOpError> {
    let mut bare = state.key.clone();
    bare.terms = Some(KeyTerms {
        template,
        ..KeyTerms::default()
    });
    match crate::activate::key_spec(config, &key.product, &key.key, &bare) {
        Ok((spec, _)) => Ok(spec),
        Err(ActivationError::NoTemplate { .. }) => Ok(LicenseSpec::default()),
        Err(e) => Err(KeyOpError::Template(Box::new(e))),
    }
}

/// The key's terms after `c`.
fn apply(before: &KeyTerms, base: &LicenseSpec, c: &KeyUpdate) -> Result<KeyTerms, KeyOpError> {
    let mut t = before.clone();
    let effective = before.over(base.clone());
    if let Some(l) = c.max_activations {
        t.spec.max_activations = Some(l);
    }
    if let Some(l) = c.max_deactivations {
        t.spec.max_deactivations = Some(l);
    }
    if !c.add_features.is_empty() || !c.remove_features.is_empty() {
        let mut features = effective.features.clone();
        for r in &c.remove_features {
            let name = feature_name(r);
            if !features.iter().any(|f| feature_name(f) == name) {
                return Err(invalid(
                    "features",
                    format!("the key has no feature {name:?} to remove"),
                ));
            }
            features.retain(|f| feature_name(f) != name);
            if !t.removed_features.iter().any(|x| x == name) {
                t.removed_features.push(name.to_string());
            }
        }
        for a in &c.add_features {
            let name = feature_name(a);
            features.retain(|f| feature_name(f) != name);
            features.push(a.trim().to_string());
            t.removed_features.retain(|x| x != name);
        }
        // An empty list in the key's terms means "the template's": with nothing left, every
        // feature of the template is one this key does not get.
        if features.is_empty() {
            for f in &base.features {
                let name = feature_name(f).to_string();
                if !t.removed_features.contains(&name) {
                    t.removed_features.push(name);
                }
            }
        }
        t.spec.features = features;
    }
    match &c.term {
        None => {}
        Some(TermChange::Expires(date)) => {
            parse_time("expires", date, EndOfDay::Yes).map_err(issue_error)?;
            t.spec.expires = Some(date.clone());
            t.spec.days = None;
        }
        Some(TermChange::Extend(n)) => match (&effective.expires, effective.days) {
            (Some(end), _) => {
                t.spec.expires = Some(extend_date(end, *n)?);
                t.spec.days = None;
            }
            (None, Some(days)) => {
                let longer = days.saturating_add(*n);
                t.spec.days = Some(require_days("extend", longer).map_err(issue_error)?);
                t.spec.expires = None;
            }
            (None, None) => {
                return Err(invalid(
                    "extend",
                    "the key's licenses do not end, so there is no end to move; give an end \
                     date instead",
                ));
            }
        },
    }
    if let Some(notes) = &c.notes {
        t.notes = Some(notes.clone()).filter(|n| !n.trim().is_empty());
    }
    if c.customer.is_some() {
        t.customer = c.customer;
    }
    for (name, value) in &c.set_metadata {
        let value = value
            .parse::<i64>()
            .map_or_else(|_| MetaSpec::Text(value.clone()), MetaSpec::Int);
        t.spec.metadata.insert(name.clone(), value);
        t.removed_metadata.retain(|x| x != name);
    }
    for name in &c.remove_metadata {
        if !effective.metadata.contains_key(name) {
            return Err(invalid(
                "metadata",
                format!("the key has no metadata {name:?} to remove"),
            ));
        }
        t.spec.metadata.remove(name);
        if base.metadata.contains_key(name) && !t.removed_metadata.contains(name) {
            t.removed_metadata.push(name.clone());
        }
    }
    Ok(t)
}

fn issue_error(e: IssueError) -> KeyOpError {
    match e {
        IssueError::InvalidField { field, message } => invalid(field, message),
        IssueError::InvalidClaims(why) => invalid("terms", why),
        IssueError::Scope(e) => invalid("terms", e.to_string()),
    }
}

/// `end` moved `days` later, written as it was: a date stays a date, an instant an instant.
fn extend_date(end: &str, days: u32) -> Result<String, KeyOpError> {
    if let Ok(date) = NaiveDate::parse_from_str(end, "%Y-%m-%d") {
        let later = date
            .checked_add_days(chrono::Days::new(u64::from(days)))
            .map(|d| d.format("%Y-%m-%d").to_string())
            .ok_or_else(|| invalid("extend", "the end would be after the year 9999"))?;
        parse_time("extend", &later, EndOfDay::Yes).map_err(issue_error)?;
        return Ok(later);
    }
    if DateTime::parse_from_rfc3339(end).is_err() {
        return Err(invalid("expires", format!("{end:?} is not a date")));
    }
    let at: UnixTime = parse_time("expires", end, EndOfDay::Yes).map_err(issue_error)?;
    Ok(format_time(
        end_after_days("extend", at, days).map_err(issue_error)?,
    ))
}
