//! The ledger's listings as rows: the columns and the row of each kind of record, shared by
//! `airseal ledger` and the service's `GET /v1/ledger/…`, so a listing reads the same in a
//! terminal, a CSV file and the API. CSV cells go through the one CSV writer ([`crate::csv`]).

use serde_json::{Value, json};

use crate::ledger::{Activation, AuditEntry, BatchInfo, KeyOverview, LicenseRecord, SeatRequest};
use crate::time::format_time;

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An instant as RFC 3339 UTC text, `null` for none.
pub fn time(t: Option<i64>) -> Value {
    t.map_or(Value::Null, |t| Value::String(format_time(t)))
}

/// The columns of [`key_row`], in order.
pub const KEY_COLUMNS: &[&str] = &[
    "product",
    "key",
    "status",
    "kind",
    "batch",
    "created",
    "email",
    "template",
    "seats_in_use",
    "live_seats",
    "prior_activations",
    "deactivations",
    "prior_deactivations",
    "customer",
    "notes",
];

/// One row, in the order of its columns.
pub fn key_row(k: KeyOverview) -> Vec<Value> {
    vec![
        json!(k.record.product),
        json!(k.record.key),
        json!(k.record.status.as_str()),
        json!(k.record.kind),
        json!(k.record.batch),
        time(Some(k.record.created)),
        json!(k.email),
        json!(k.template),
        json!(k.seats_in_use()),
        json!(k.live_seats),
        json!(k.prior_activations),
        json!(k.deactivations),
        json!(k.prior_deactivations),
        json!(k.customer),
        json!(k.notes),
    ]
}

/// The columns of [`license_row`], in order.
pub const LICENSE_COLUMNS: &[&str] = &[
    "license_id",
    "source",
    "product",
    "key",
    "kind",
    "email",
    "name",
    "issued_at",
    "expires_at",
    "activation",
    "batch",
    "signed_by",
    "token_id",
];

/// One row, in the order of its columns.
pub fn license_row(l: LicenseRecord) -> Vec<Value> {
    vec![
        json!(l.license_id),
        json!(l.source.as_str()),
        json!(l.product),
        json!(l.product_key),
        json!(l.kind.as_str()),
        json!(l.email),
        json!(l.name),
        time(Some(l.issued_at)),
        time(l.expires_at),
        json!(l.activation),
        json!(l.batch),
        json!(l.signed_by.map(|k| k.to_string())),
        json!(hex(&l.token_id)),
    ]
}

/// The columns of [`activation_row`], in order.
pub const ACTIVATION_COLUMNS: &[&str] = &[
    "id",
    "product",
    "key",
    "purpose",
    "license_id",
    "device_key_id",
    "email",
    "activated_at",
    "deactivated_at",
    "deactivated_by",
    "reissues",
    "app_version",
    "threshold",
    "components",
    "token_id",
    "device_key",
    "meters",
];

/// The columns of [`history_row`], in order.
pub const HISTORY_COLUMNS: &[&str] = &[
    "activation",
    "license_id",
    "at",
    "matched",
    "threshold",
    "components",
];

/// One request of a seat's component history ([`SeatRequest`]).
pub fn history_row(a: &Activation, h: &SeatRequest) -> Vec<Value> {
    vec![
        json!(a.id),
        json!(a.license_id),
        time(Some(h.at)),
        json!(h.matched),
        json!(a.threshold),
        json!(h.components.iter().map(|c| hex(c)).collect::<Vec<_>>()),
    ]
}

/// One row, in the order of its columns.
pub fn activation_row(a: Activation) -> Vec<Value> {
    let meters: serde_json::Map<String, Value> = a
        .meters
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    vec![
        json!(a.id),
        json!(a.product),
        json!(a.key),
        json!(match a.purpose {
            airseal_core::activation::Purpose::Trial => "trial",
            airseal_core::activation::Purpose::Activation => "activation",
        }),
        json!(a.license_id),
        json!(a.device_key_id().to_string()),
        json!(a.email),
        time(Some(a.activated_at)),
        time(a.deactivated_at),
        json!(a.deactivated_by),
        json!(a.reissues),
        json!(a.app_version),
        json!(a.threshold),
        json!(a.components.iter().map(|c| hex(c)).collect::<Vec<_>>()),
        json!(hex(&a.token_id)),
        json!(hex(&a.device_key)),
        Value::Object(meters),
    ]
}

/// The columns of [`batch_row`], in order.
pub const BATCH_COLUMNS: &[&str] = &[
    "id",
    "product",
    "kind",
    "status",
    "requested",
    "inserted",
    "created",
    "template",
    "output",
];

/// One row, in the order of its columns.
pub fn batch_row(b: BatchInfo) -> Vec<Value> {
    vec![
        json!(b.id),
        json!(b.product),
        json!(b.kind),
        json!(b.status.as_str()),
        json!(b.requested),
        json!(b.inserted),
        time(Some(b.created)),
        b.params.get("template").cloned().unwrap_or(Value::Null),
        json!(b.output.map(|p| p.display().to_string())),
    ]
}

/// The columns of [`audit_row`], in order.
pub const AUDIT_COLUMNS: &[&str] = &["id", "at", "action", "subject", "detail", "actor"];

/// One row, in the order of its columns.
pub fn audit_row(e: AuditEntry) -> Vec<Value> {
    vec![
        json!(e.id),
        time(Some(e.at)),
        json!(e.action),
        json!(e.subject),
        e.detail,
        json!(e.actor),
    ]
}

/// A cell as text: strings as they are, null as empty, arrays joined with spaces, an empty
/// object as empty, anything else as compact JSON.
pub fn cell_text(v: &Value) -> std::borrow::Cow<'_, str> {
    use std::borrow::Cow;
    match v {
        Value::Null => Cow::Borrowed(""),
        Value::String(s) => Cow::Borrowed(s),
        Value::Array(items) => {
            Cow::Owned(items.iter().map(cell_text).collect::<Vec<_>>().join(" "))
        }
        Value::Object(m) if m.is_empty() => Cow::Borrowed(""),
        other => Cow::Owned(other.to_string()),
    }
}

/// One CSV line (ending in `\n`) of `row`'s cells ([`cell_text`], then [`crate::csv::cell`]:
/// quoted, and guarded against formula injection).
pub fn csv_line(row: &[Value]) -> String {
    let texts: Vec<_> = row.iter().map(cell_text).collect();
    crate::csv::record(texts.iter().map(AsRef::as_ref))
}

/// `row` as a JSON object keyed by `columns`.
pub fn object(columns: &[&str], row: Vec<Value>) -> Value {
    Value::Object(columns.iter().map(|c| (*c).to_string()).zip(row).collect())
}
