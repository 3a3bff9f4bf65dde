//! What each platform's export looks like: column names, status words, date formats.
//!
//! Column names are compared after [`normalize`] (lowercase letters and digits only), so
//! `Product Key`, `product_key` and `productKey` are one name. A column a preset does not
//! list becomes a metadata entry named after its header, unless its name is ambiguous
//! ([`AMBIGUOUS`]); then the import is refused until `--map` says what it is.

use std::borrow::Cow;

use super::Target;
use crate::ledger::KeyStatus;

/// A platform's export format.
#[derive(Debug)]
pub(crate) struct PresetDef {
    /// The `--from` name.
    pub name: &'static str,
    /// Known columns by normalized header.
    pub columns: &'static [(&'static str, Target)],
    /// How to read a status word.
    pub status: fn(&str) -> Result<Status, String>,
    /// The status words, for messages.
    pub statuses: &'static str,
    /// Whether `MM/DD/YYYY` dates are accepted (US dashboards); never guessed otherwise.
    pub mdy_dates: bool,
    /// Whether the word `null` means an empty cell (exports made from JSON APIs).
    pub null_word: bool,
    /// What an empty activation limit means: `true` = unlimited, `false` = not given.
    pub empty_limit_unlimited: bool,
    /// Whether a limit of 0 means unlimited (otherwise 0 is refused: a license must allow at
    /// least one activation).
    pub zero_limit_unlimited: bool,
    /// The column the key is in, for the "not this kind of export" message.
    pub key_column: &'static str,
}

/// A status read from an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Status {
    /// Our status.
    pub key: KeyStatus,
    /// The platform said "expired": the row must then carry an expiry date, which is what
    /// makes its licenses expired here (a key is never stored as expired without one).
    pub expired: bool,
}

const fn ok(key: KeyStatus) -> Result<Status, String> {
    Ok(Status {
        key,
        expired: false,
    })
}

const EXPIRED: Result<Status, String> = Ok(Status {
    key: KeyStatus::Active,
    expired: true,
});

/// Lowercase ASCII letters and digits only: the form column names are compared in.
pub(crate) fn normalize(header: &str) -> String {
    header
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Column names that mean different things on different platforms (Cryptlex v2's "Total
/// Activations" is the limit, Cryptlex v3's `totalActivations` the count used), with the
/// targets they could be. A preset may still list one of them: then it is not ambiguous for
/// that preset.
pub(crate) const AMBIGUOUS: &[(&str, &[&str])] = &[
    ("activations", &["max_activations", "used_activations"]),
    ("activation", &["max_activations", "used_activations"]),
    ("totalactivations", &["max_activations", "used_activations"]),
    (
        "deactivations",
        &["max_deactivations", "used_deactivations"],
    ),
    (
        "totaldeactivations",
        &["max_deactivations", "used_deactivations"],
    ),
    ("machines", &["max_activations", "used_activations"]),
    ("devices", &["max_activations", "used_activations"]),
    ("seats", &["max_activations", "used_activations"]),
    ("instances", &["max_activations", "used_activations"]),
    ("date", &["created", "expires"]),
    ("validity", &["expires", "period_days", "interval"]),
];

fn common_status(s: &str) -> Result<Status, String> {
    match s.to_ascii_lowercase().as_str() {
        "active" | "inactive" => ok(KeyStatus::Active),
        "expired" => EXPIRED,
        "suspended" => ok(KeyStatus::Suspended),
        "revoked" => ok(KeyStatus::Revoked),
        other => Err(format!("unknown status {other:?}")),
    }
}

/// Cryptlex v2 dashboard export. Dates: ISO 8601 or `MM/DD/YYYY[ HH:MM[:SS][ AM|PM]]`.
pub(crate) const CRYPTLEX_V2: PresetDef = PresetDef {
    name: "cryptlex-v2",
    columns: &[
        ("keyid", Target::Meta(Cow::Borrowed("cryptlex_key_id"))),
        ("productkey", Target::Key),
        ("email", Target::Email),
        ("status", Target::Status),
        ("expireson", Target::Expires),
        ("totalactivations", Target::MaxActivations),
        ("usedactivations", Target::UsedActivations),
        ("totaldeactivations", Target::MaxDeactivations),
        ("useddeactivations", Target::UsedDeactivations),
        ("creationdate", Target::Created),
        ("customfields", Target::CustomFields),
        (
            "activationlocation",
            Target::Meta(Cow::Borrowed("activation_location")),
        ),
        (
            "activationdate",
            Target::Meta(Cow::Borrowed("activation_date")),
        ),
        (
            "activationextradata",
            Target::Meta(Cow::Borrowed("activation_extra_data")),
        ),
        ("activationos", Target::Meta(Cow::Borrowed("activation_os"))),
    ],
    status: common_status,
    statuses: "active, inactive, expired, suspended, revoked",
    mdy_dates: true,
    null_word: false,
    empty_limit_unlimited: false,
    zero_limit_unlimited: false,
    key_column: "Product Key",
};

/// Cryptlex (v3) license export, from the API's field names.
pub(crate) const CRYPTLEX_V3: PresetDef = PresetDef {
    name: "cryptlex",
    columns: &[
        ("id", Target::Meta(Cow::Borrowed("cryptlex_id"))),
        ("key", Target::Key),
        ("allowedactivations", Target::MaxActivations),
        ("alloweddeactivations", Target::MaxDeactivations),
        ("subscriptioninterval", Target::Interval),
        ("createdat", Target::Created),
        ("expiresat", Target::Expires),
        ("email", Target::Email),
        ("useremail", Target::Email),
        ("firstname", Target::FirstName),
        ("userfirstname", Target::FirstName),
        ("lastname", Target::LastName),
        ("userlastname", Target::LastName),
        ("company", Target::Org),
        ("usercompany", Target::Org),
        ("status", Target::Status),
        ("suspended", Target::Suspended),
        ("revoked", Target::Revoked),
    ],
    status: common_status,
    statuses: "active, inactive, expired, suspended, revoked",
    mdy_dates: false,
    null_word: true,
    empty_limit_unlimited: false,
    zero_limit_unlimited: false,
    key_column: "key",
};

fn keygen_status(s: &str) -> Result<Status, String> {
    match s.to_ascii_uppercase().as_str() {
        "ACTIVE" | "INACTIVE" | "EXPIRING" => ok(KeyStatus::Active),
        "EXPIRED" => EXPIRED,
        "SUSPENDED" => ok(KeyStatus::Suspended),
        "BANNED" => ok(KeyStatus::Revoked),
        _ => Err(format!("unknown status {s:?}")),
    }
}

/// Keygen license export.
pub(crate) const KEYGEN: PresetDef = PresetDef {
    name: "keygen",
    columns: &[
        ("id", Target::Meta(Cow::Borrowed("keygen_id"))),
        ("key", Target::Key),
        ("licensekey", Target::Key),
        ("name", Target::Meta(Cow::Borrowed("license_name"))),
        ("policy", Target::Meta(Cow::Borrowed("policy"))),
        ("policyname", Target::Meta(Cow::Borrowed("policy"))),
        ("user", Target::Email),
        ("useremail", Target::Email),
        ("email", Target::Email),
        ("username", Target::Name),
        ("status", Target::Status),
        ("created", Target::Created),
        ("expiry", Target::Expires),
        ("maxmachines", Target::MaxActivations),
        ("metadata", Target::MetadataJson),
        ("suspended", Target::Suspended),
    ],
    status: keygen_status,
    statuses: "ACTIVE, INACTIVE, EXPIRING, EXPIRED, SUSPENDED, BANNED",
    mdy_dates: false,
    null_word: true,
    empty_limit_unlimited: false,
    zero_limit_unlimited: false,
    key_column: "key",
};

fn lemonsqueezy_status(s: &str) -> Result<Status, String> {
    match s.to_ascii_lowercase().as_str() {
        "inactive" | "active" => ok(KeyStatus::Active),
        "expired" => EXPIRED,
        "disabled" => ok(KeyStatus::Suspended),
        other => Err(format!("unknown status {other:?}")),
    }
}

/// Lemon Squeezy license keys export.
pub(crate) const LEMONSQUEEZY: PresetDef = PresetDef {
    name: "lemonsqueezy",
    columns: &[
        ("id", Target::Meta(Cow::Borrowed("lemonsqueezy_id"))),
        ("key", Target::Key),
        ("keyshort", Target::Meta(Cow::Borrowed("key_short"))),
        ("product", Target::Meta(Cow::Borrowed("product"))),
        ("productname", Target::Meta(Cow::Borrowed("product"))),
        ("variant", Target::Meta(Cow::Borrowed("variant"))),
        ("variantname", Target::Meta(Cow::Borrowed("variant"))),
        ("productid", Target::Meta(Cow::Borrowed("product_id"))),
        ("variantid", Target::Meta(Cow::Borrowed("variant_id"))),
        ("customername", Target::Name),
        ("username", Target::Name),
        ("customeremail", Target::Email),
        ("useremail", Target::Email),
        ("status", Target::Status),
        ("activationlimit", Target::MaxActivations),
        ("instancescount", Target::UsedActivations),
        ("expiresat", Target::Expires),
        ("createdat", Target::Created),
        ("orderid", Target::Meta(Cow::Borrowed("order_id"))),
        ("orderitemid", Target::Meta(Cow::Borrowed("order_item_id"))),
        ("ordernumber", Target::Meta(Cow::Borrowed("order_number"))),
        ("customerid", Target::Meta(Cow::Borrowed("customer_id"))),
        ("storeid", Target::Meta(Cow::Borrowed("store_id"))),
        ("disabled", Target::Suspended),
        ("testmode", Target::Meta(Cow::Borrowed("test_mode"))),
    ],
    status: lemonsqueezy_status,
    statuses: "inactive, active, expired, disabled",
    mdy_dates: false,
    null_word: true,
    empty_limit_unlimited: true,
    zero_limit_unlimited: false,
    key_column: "key",
};

fn no_status(s: &str) -> Result<Status, String> {
    Err(format!(
        "unknown status {s:?} (Cryptolens exports block keys with the Block column)"
    ))
}

/// Cryptolens (Serial Key Manager) key export. Dates: ISO 8601 or `MM/DD/YYYY`.
pub(crate) const CRYPTOLENS: PresetDef = PresetDef {
    name: "cryptolens",
    columns: &[
        ("id", Target::Meta(Cow::Borrowed("cryptolens_id"))),
        ("key", Target::Key),
        ("created", Target::Created),
        ("expires", Target::Expires),
        ("period", Target::PeriodDays),
        ("f1", Target::Feature(1)),
        ("f2", Target::Feature(2)),
        ("f3", Target::Feature(3)),
        ("f4", Target::Feature(4)),
        ("f5", Target::Feature(5)),
        ("f6", Target::Feature(6)),
        ("f7", Target::Feature(7)),
        ("f8", Target::Feature(8)),
        ("notes", Target::Meta(Cow::Borrowed("notes"))),
        ("block", Target::Suspended),
        ("blocked", Target::Suspended),
        ("customer", Target::Name),
        ("customername", Target::Name),
        ("customeremail", Target::Email),
        ("email", Target::Email),
        ("customercompany", Target::Org),
        ("company", Target::Org),
        ("customerid", Target::Meta(Cow::Borrowed("customer_id"))),
        ("maxnoofmachines", Target::MaxActivations),
        ("maximumnumberofmachines", Target::MaxActivations),
        (
            "trialactivation",
            Target::Meta(Cow::Borrowed("trial_activation")),
        ),
    ],
    status: no_status,
    statuses: "(none: use the Block column)",
    mdy_dates: true,
    null_word: false,
    empty_limit_unlimited: false,
    zero_limit_unlimited: true,
    key_column: "Key",
};

/// Any CSV: a column named like a target (`key`, `email`, `max_activations`, …) is that
/// target; everything else comes from `--map` or becomes metadata.
pub(crate) const GENERIC: PresetDef = PresetDef {
    name: "generic",
    columns: &[
        ("key", Target::Key),
        ("email", Target::Email),
        ("name", Target::Name),
        ("firstname", Target::FirstName),
        ("lastname", Target::LastName),
        ("org", Target::Org),
        ("status", Target::Status),
        ("expires", Target::Expires),
        ("created", Target::Created),
        ("maxactivations", Target::MaxActivations),
        ("usedactivations", Target::UsedActivations),
        ("maxdeactivations", Target::MaxDeactivations),
        ("useddeactivations", Target::UsedDeactivations),
        ("features", Target::Features),
        ("perioddays", Target::PeriodDays),
        ("interval", Target::Interval),
        ("customfields", Target::CustomFields),
        ("metadatajson", Target::MetadataJson),
        ("suspended", Target::Suspended),
        ("revoked", Target::Revoked),
    ],
    status: common_status,
    statuses: "active, inactive, expired, suspended, revoked",
    mdy_dates: false,
    null_word: false,
    empty_limit_unlimited: false,
    zero_limit_unlimited: false,
    key_column: "key",
};
