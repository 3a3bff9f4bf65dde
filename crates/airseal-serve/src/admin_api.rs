//! The admin API (`Authorization: Bearer` with an admin token, [`crate::auth`]): what a
//! vendor's backend or web shop does to the ledger — make keys for an order, look a key up,
//! change its terms or status, issue a license, renew, revoke, list. Each handler is one
//! vendor library call, the one the CLI command of the same job makes, run on the ledger
//! pool with the audit actor `token:<name>`. Errors are `application/problem+json`.

// utoipa's `params(…)` expansion names the parameter types by their full path.
#![allow(unused_qualifications)]

use std::collections::BTreeMap;
use std::sync::Arc;

use airseal_core::ObjectType;
use airseal_core::armor::armor;
use airseal_vendor::issue::LimitSpec;
use airseal_vendor::issue::for_key::{self, LicenseOrder};
use airseal_vendor::keys::KeyKind;
use airseal_vendor::keys::ops::{self, KeyOpError, KeyUpdate, TermChange};
use airseal_vendor::keys::order::{self, KeyOrder};
use airseal_vendor::ledger::{
    ActivationFilter, AuditFilter, KeyFilter, KeyStatus, LedgerError, LicenseFilter, RevokeOutcome,
    RevokeTarget,
};
use airseal_vendor::listing;
use airseal_vendor::renew;
use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use crate::auth::AdminCaller;
use crate::problem::{Problem, refusal};
use crate::state::AppState;

/// The admin API's routes.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/keys", post(create_keys))
        .route("/v1/keys/{key}", get(get_key).patch(patch_key))
        .route("/v1/licenses", post(create_license))
        .route("/v1/renewals", post(create_renewal))
        .route("/v1/revocations", post(create_revocation))
        .route("/v1/ledger/keys", get(ledger_keys))
        .route("/v1/ledger/licenses", get(ledger_licenses))
        .route("/v1/ledger/activations", get(ledger_activations))
        .route("/v1/ledger/audit", get(ledger_audit))
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn refused(status: StatusCode, error: &'static str, e: &impl std::fmt::Display) -> Problem {
    Problem::new(status, error, 1, e.to_string())
}

fn invalid(e: &impl std::fmt::Display) -> Problem {
    refused(StatusCode::UNPROCESSABLE_ENTITY, "invalid", e)
}

fn ledger_problem(e: &LedgerError) -> Problem {
    crate::problem::from_ledger(e)
}

/// A seat or deactivation limit: a number, or `"unlimited"`.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(untagged)]
pub enum Limit {
    /// At most this many.
    Count(u64),
    /// The word `unlimited`.
    Word(String),
}

impl Limit {
    fn spec(&self, field: &str) -> Result<LimitSpec, Problem> {
        match self {
            Limit::Count(n) => Ok(LimitSpec::Count(*n)),
            Limit::Word(w) => serde_json::from_value(json!(w)).map_err(|_| {
                Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid",
                    1,
                    format!("{field}: a number or \"unlimited\""),
                )
            }),
        }
    }
}

/// A change to a key's terms; every field left out leaves that term as it is (the fields of
/// `airseal keys update`).
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Terms {
    /// Seat limit.
    pub max_activations: Option<Limit>,
    /// Deactivation limit.
    pub max_deactivations: Option<Limit>,
    /// Features to add (`F1`..`F8` or a name, optionally `=DATE`).
    #[serde(default)]
    pub add_features: Vec<String>,
    /// Features to remove, by name.
    #[serde(default)]
    pub remove_features: Vec<String>,
    /// A new end of the term (YYYY-MM-DD, end of that day UTC, or RFC 3339).
    pub expires: Option<String>,
    /// Days more (added to the term).
    pub extend_days: Option<u32>,
    /// Notes (empty text clears them).
    pub notes: Option<String>,
    /// The customer (its number) the key belongs to.
    pub customer: Option<i64>,
    /// Metadata to set.
    #[serde(default)]
    #[schema(value_type = BTreeMap<String, String>)]
    pub metadata: BTreeMap<String, String>,
    /// Metadata names to remove.
    #[serde(default)]
    pub remove_metadata: Vec<String>,
}

impl Terms {
    fn update(&self) -> Result<KeyUpdate, Problem> {
        let term = match (&self.expires, self.extend_days) {
            (Some(_), Some(_)) => {
                return Err(Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid",
                    1,
                    "expires and extend_days: give one of them",
                ));
            }
            (Some(d), None) => Some(TermChange::Expires(d.clone())),
            (None, Some(n)) => Some(TermChange::Extend(n)),
            (None, None) => None,
        };
        Ok(KeyUpdate {
            max_activations: self
                .max_activations
                .as_ref()
                .map(|l| l.spec("max_activations"))
                .transpose()?,
            max_deactivations: self
                .max_deactivations
                .as_ref()
                .map(|l| l.spec("max_deactivations"))
                .transpose()?,
            add_features: self.add_features.clone(),
            remove_features: self.remove_features.clone(),
            term,
            notes: self.notes.clone(),
            customer: self.customer,
            set_metadata: self
                .metadata
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            remove_metadata: self.remove_metadata.clone(),
        })
    }
}

/// `POST /v1/keys`: keys for an order.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeysRequest {
    /// The product (one of `airseal.toml`'s).
    pub product: String,
    /// How many keys (1 to 1000).
    #[serde(default = "one")]
    #[schema(minimum = 1, maximum = 1000)]
    pub count: u64,
    /// `random` (default), `data` or `signed`.
    pub kind: Option<String>,
    /// The template activation uses for these keys (default: the product's).
    pub template: Option<String>,
    /// The customer (its number) the keys belong to.
    pub customer: Option<i64>,
    /// Terms every key gets.
    pub terms: Option<Terms>,
}

fn one() -> u64 {
    1
}

/// The keys made.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct KeysResponse {
    /// The batch that records them.
    pub batch: i64,
    /// The product.
    pub product: String,
    /// The keys, as customers type them.
    pub keys: Vec<String>,
}

/// Makes keys for a product (a store's purchase): a batch recorded as `airseal keys
/// generate` records one, each key linked to the customer and given the terms.
#[utoipa::path(post, path = "/v1/keys", tag = "admin",
    request_body = KeysRequest,
    responses(
        (status = 201, description = "The keys made", body = KeysResponse),
        (status = 401, description = "No usable admin token", body = crate::openapi::ProblemDoc),
        (status = 403, description = "Not an admin token", body = crate::openapi::ProblemDoc),
        (status = 404, description = "Unknown product", body = crate::openapi::ProblemDoc),
        (status = 422, description = "Refused", body = crate::openapi::ProblemDoc),
    ),
    security(("bearer" = [])))]
pub(crate) async fn create_keys(
    State(state): State<Arc<AppState>>,
    caller: AdminCaller,
    body: Result<Json<KeysRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, Problem> {
    let Json(body) = body.map_err(bad_body)?;
    let kind = body
        .kind
        .as_deref()
        .map(KeyKind::parse)
        .transpose()
        .map_err(|e| Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", 1, e))?;
    let order = KeyOrder {
        product: body.product,
        count: body.count,
        kind,
        template: body.template,
        customer: body.customer,
        terms: body.terms.unwrap_or_default().update()?,
    };
    let shared = Arc::clone(&state);
    let made = state
        .with_ledger_as(Some(caller.actor()), move |ledger| {
            order::create_keys(
                ledger,
                &shared.vendor,
                &shared.issuer,
                &order,
                shared.vendor.root(),
                now(),
            )
        })
        .await?
        .map_err(|e| refusal(&e))?;
    Ok((
        StatusCode::CREATED,
        Json(KeysResponse {
            batch: made.batch,
            product: made.product,
            keys: made.keys,
        }),
    )
        .into_response())
}

/// Which product a key path means, when several hold it.
#[derive(Clone, Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProductQuery {
    /// The product (needed only when several products hold the key).
    pub product: Option<String>,
}

/// A key with its seats and licenses.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct KeyResponse {
    /// The key as `GET /v1/ledger/keys` lists it.
    #[schema(value_type = Object)]
    pub key: Value,
    /// Its seats, as `GET /v1/ledger/activations` lists them.
    #[schema(value_type = Vec<Object>)]
    pub seats: Vec<Value>,
    /// Its licenses, as `GET /v1/ledger/licenses` lists them.
    #[schema(value_type = Vec<Object>)]
    pub licenses: Vec<Value>,
}

/// Looks a key up (however it was typed) with its seats and licenses.
#[utoipa::path(get, path = "/v1/keys/{key}", tag = "admin",
    params(("key" = String, Path, description = "The product key"), ProductQuery),
    responses(
        (status = 200, description = "The key", body = KeyResponse),
        (status = 401, description = "No usable admin token", body = crate::openapi::ProblemDoc),
        (status = 404, description = "Unknown key", body = crate::openapi::ProblemDoc),
        (status = 409, description = "Several products hold it", body = crate::openapi::ProblemDoc),
    ),
    security(("bearer" = [])))]
pub(crate) async fn get_key(
    State(state): State<Arc<AppState>>,
    caller: AdminCaller,
    Path(key): Path<String>,
    Query(q): Query<ProductQuery>,
) -> Result<Json<KeyResponse>, Problem> {
    let found = state
        .with_ledger_as(Some(caller.actor()), move |ledger| {
            airseal_vendor::keys::details::details(ledger, q.product.as_deref(), &key)
        })
        .await?
        .map_err(|e| refusal(&e))?;
    Ok(Json(KeyResponse {
        key: listing::object(listing::KEY_COLUMNS, listing::key_row(found.overview)),
        seats: found
            .seats
            .into_iter()
            .map(|a| listing::object(listing::ACTIVATION_COLUMNS, listing::activation_row(a)))
            .collect(),
        licenses: found
            .licenses
            .into_iter()
            .map(|l| listing::object(listing::LICENSE_COLUMNS, listing::license_row(l)))
            .collect(),
    }))
}

/// `PATCH /v1/keys/{key}`: a status change, new terms, or both.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyPatch {
    /// `suspended` (activation refuses the key) or `active` (reinstate it).
    pub status: Option<String>,
    /// Why (kept with a suspension in the audit log).
    pub reason: Option<String>,
    /// New terms.
    pub terms: Option<Terms>,
}

/// What a patch did.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct KeyPatchResponse {
    /// The status change (`from`, `to`, `changed`), if one was asked for.
    #[schema(value_type = Option<Object>)]
    pub status: Option<Value>,
    /// The terms before and after, if new terms were given.
    #[schema(value_type = Option<Object>)]
    pub terms: Option<Value>,
}

/// Suspends, reinstates, or changes a key's terms (seats, features, end, notes, customer,
/// metadata): `airseal keys suspend|reinstate|update`.
#[utoipa::path(patch, path = "/v1/keys/{key}", tag = "admin",
    params(("key" = String, Path, description = "The product key"), ProductQuery),
    request_body = KeyPatch,
    responses(
        (status = 200, description = "Done", body = KeyPatchResponse),
        (status = 401, description = "No usable admin token", body = crate::openapi::ProblemDoc),
        (status = 404, description = "Unknown key", body = crate::openapi::ProblemDoc),
        (status = 410, description = "The key is revoked", body = crate::openapi::ProblemDoc),
        (status = 422, description = "Refused", body = crate::openapi::ProblemDoc),
    ),
    security(("bearer" = [])))]
pub(crate) async fn patch_key(
    State(state): State<Arc<AppState>>,
    caller: AdminCaller,
    Path(key): Path<String>,
    Query(q): Query<ProductQuery>,
    body: Result<Json<KeyPatch>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<KeyPatchResponse>, Problem> {
    let Json(patch) = body.map_err(bad_body)?;
    let to = match patch.status.as_deref() {
        None => None,
        Some(s) => match KeyStatus::parse(s) {
            Ok(s @ (KeyStatus::Active | KeyStatus::Suspended)) => Some(s),
            _ => {
                return Err(Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid",
                    1,
                    "status: `active` or `suspended` (revoking is POST /v1/revocations)",
                ));
            }
        },
    };
    let update = patch.terms.as_ref().map(Terms::update).transpose()?;
    let shared = Arc::clone(&state);
    let out = state
        .with_ledger_as(Some(caller.actor()), move |ledger| {
            let product = q.product.as_deref();
            let status = match to {
                Some(KeyStatus::Suspended) => Some(ops::suspend(
                    ledger,
                    product,
                    &key,
                    patch.reason.as_deref(),
                )?),
                Some(_) => Some(ops::reinstate(ledger, product, &key)?),
                None => None,
            };
            let terms = match &update {
                Some(u) => Some(ops::update(
                    ledger,
                    shared.vendor.config(),
                    product,
                    &key,
                    u,
                    now(),
                )?),
                None => None,
            };
            Ok::<_, KeyOpError>((status, terms))
        })
        .await?
        .map_err(|e| refusal(&e))?;
    Ok(Json(KeyPatchResponse {
        status: out.0.map(|s| json!(s)),
        terms: out.1.map(|t| json!(t)),
    }))
}

/// `POST /v1/licenses`: a license for a key.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LicenseRequest {
    /// The product.
    pub product: String,
    /// The product key.
    pub key: String,
    /// A named template of the product (default: its activation template).
    pub template: Option<String>,
    /// The licensee's name.
    pub licensee_name: Option<String>,
    /// The licensee's e-mail address.
    pub licensee_email: Option<String>,
    /// The licensee's organisation.
    pub licensee_org: Option<String>,
}

/// The license issued.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct LicenseResponse {
    /// Its id.
    pub license_id: String,
    /// The product.
    pub product: String,
    /// The key that signed it.
    pub key_id: String,
    /// The license file (armored text, `-----BEGIN AIRSEAL LICENSE-----`).
    pub license: String,
    /// What it says.
    #[schema(value_type = Object)]
    pub claims: Value,
}

/// Issues and records a license for a key from a named template of the product
/// (`airseal issue --product-key KEY --template NAME`).
#[utoipa::path(post, path = "/v1/licenses", tag = "admin",
    request_body = LicenseRequest,
    responses(
        (status = 201, description = "The license", body = LicenseResponse),
        (status = 401, description = "No usable admin token", body = crate::openapi::ProblemDoc),
        (status = 404, description = "Unknown product or key", body = crate::openapi::ProblemDoc),
        (status = 409, description = "The key is suspended or revoked", body = crate::openapi::ProblemDoc),
        (status = 422, description = "Refused", body = crate::openapi::ProblemDoc),
    ),
    security(("bearer" = [])))]
pub(crate) async fn create_license(
    State(state): State<Arc<AppState>>,
    caller: AdminCaller,
    body: Result<Json<LicenseRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, Problem> {
    let Json(body) = body.map_err(bad_body)?;
    let order = LicenseOrder {
        product: body.product,
        key: body.key,
        template: body.template,
        licensee_name: body.licensee_name,
        licensee_email: body.licensee_email,
        licensee_org: body.licensee_org,
    };
    let shared = Arc::clone(&state);
    let (claims, bytes) = state
        .with_ledger_as(Some(caller.actor()), move |ledger| {
            for_key::issue_for_key(&shared.vendor, ledger, &shared.issuer, &order, now())
        })
        .await?
        .map_err(|e| refusal(&e))?;
    Ok((
        StatusCode::CREATED,
        Json(LicenseResponse {
            license_id: claims.license_id.clone(),
            product: claims.product.clone(),
            key_id: state.issuer.key_id().to_string(),
            license: armor(ObjectType::License.armor_label(), &bytes),
            claims: airseal_core::json::claims_to_json(&claims),
        }),
    )
        .into_response())
}

/// `POST /v1/renewals`: renew a key's machines.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenewalRequest {
    /// The product key.
    pub key: String,
    /// The product (needed only when several products hold the key).
    pub product: Option<String>,
}

/// One seat's license update.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RenewedSeatDoc {
    /// The seat (activation id).
    pub activation: i64,
    /// The license id (unchanged).
    pub license_id: String,
    /// The update, armored (an activation response the machine installs).
    pub response: String,
}

/// What a renewal did.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RenewalResponse {
    /// The product.
    pub product: String,
    /// The key as the ledger stores it.
    pub key: String,
    /// The term end written into every update (RFC 3339; none: no end).
    pub term_end: Option<String>,
    /// One update per renewed seat.
    pub renewed: Vec<RenewedSeatDoc>,
    /// Live seats not renewed (license ids), with why.
    #[schema(value_type = Vec<Object>)]
    pub skipped: Vec<Value>,
}

/// Renews every live seat of a key: one license update per machine (`airseal renew`).
#[utoipa::path(post, path = "/v1/renewals", tag = "admin",
    request_body = RenewalRequest,
    responses(
        (status = 200, description = "The updates", body = RenewalResponse),
        (status = 401, description = "No usable admin token", body = crate::openapi::ProblemDoc),
        (status = 404, description = "Unknown product or key", body = crate::openapi::ProblemDoc),
        (status = 422, description = "Refused", body = crate::openapi::ProblemDoc),
    ),
    security(("bearer" = [])))]
pub(crate) async fn create_renewal(
    State(state): State<Arc<AppState>>,
    caller: AdminCaller,
    body: Result<Json<RenewalRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<RenewalResponse>, Problem> {
    let Json(body) = body.map_err(bad_body)?;
    let shared = Arc::clone(&state);
    let renewal = state
        .with_ledger_as(Some(caller.actor()), move |ledger| {
            renew::renew_unwritten(
                ledger,
                &shared.issuer,
                shared.vendor.config(),
                &body.key,
                body.product.as_deref(),
                shared.vendor.root(),
                now(),
            )
        })
        .await?
        .map_err(|e| refusal(&e))?;
    Ok(Json(RenewalResponse {
        product: renewal.product,
        key: renewal.key,
        term_end: renewal.term_end.map(airseal_vendor::time::format_time),
        renewed: renewal
            .renewed
            .into_iter()
            .map(|s| RenewedSeatDoc {
                activation: s.activation,
                license_id: s.license_id,
                response: armor(ObjectType::ActivationResponse.armor_label(), &s.bytes),
            })
            .collect(),
        skipped: renewal
            .skipped
            .into_iter()
            .map(|s| {
                json!({
                    "activation": s.activation,
                    "license_id": s.license_id,
                    "reason": s.reason.to_string(),
                })
            })
            .collect(),
    }))
}

/// `POST /v1/revocations`: what to revoke (one of `license_id`, `key`, `issued_before`).
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevocationRequest {
    /// A license id.
    pub license_id: Option<String>,
    /// Revoke the license id even though the ledger never recorded it.
    #[serde(default)]
    pub external: bool,
    /// A product key.
    pub key: Option<String>,
    /// The product (of the key; required with `issued_before`).
    pub product: Option<String>,
    /// Every license of the product issued before this (YYYY-MM-DD or RFC 3339).
    pub issued_before: Option<String>,
    /// Why (kept in the ledger).
    pub reason: Option<String>,
}

/// What was revoked, and the new list.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RevocationResponse {
    /// Whether anything changed (revoking what already is changes nothing).
    pub changed: bool,
    /// What changed.
    #[schema(value_type = Object)]
    pub revoked: Value,
    /// The new list's sequence number.
    pub seq: u64,
    /// The new signed revocation list (armored), also served at `GET /v1/revocations`.
    pub list: String,
}

fn outcome_json(o: &RevokeOutcome) -> Value {
    match o {
        RevokeOutcome::License { id, recorded } => {
            json!({"license_id": id, "recorded": recorded})
        }
        RevokeOutcome::Keys(keys) => json!({
            "keys": keys
                .iter()
                .map(|k| json!({
                    "product": k.product,
                    "key": k.key,
                    "from": k.from.as_str(),
                    "to": k.to.as_str(),
                    "licenses": k.licenses,
                }))
                .collect::<Vec<_>>()
        }),
        RevokeOutcome::Cutoff { product, from, to } => json!({
            "product": product,
            "from": from.map(airseal_vendor::time::format_time),
            "to": to.map(airseal_vendor::time::format_time),
        }),
        RevokeOutcome::IssuingKey { kid, serial } => {
            json!({"issuing_key": kid.to_string(), "serial": serial})
        }
    }
}

/// Revokes a license, a key or everything issued before a date, then signs and publishes a
/// new revocation list (`airseal revoke`, then `airseal revocations export`).
#[utoipa::path(post, path = "/v1/revocations", tag = "admin",
    request_body = RevocationRequest,
    responses(
        (status = 200, description = "Revoked; the new list", body = RevocationResponse),
        (status = 401, description = "No usable admin token", body = crate::openapi::ProblemDoc),
        (status = 404, description = "Unknown license, key or product", body = crate::openapi::ProblemDoc),
        (status = 422, description = "Refused", body = crate::openapi::ProblemDoc),
    ),
    security(("bearer" = [])))]
pub(crate) async fn create_revocation(
    State(state): State<Arc<AppState>>,
    caller: AdminCaller,
    body: Result<Json<RevocationRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<RevocationResponse>, Problem> {
    let Json(body) = body.map_err(bad_body)?;
    let target = match (&body.license_id, &body.key, &body.issued_before) {
        (Some(id), None, None) => RevokeTarget::License {
            id: id.clone(),
            external: body.external,
        },
        (None, Some(key), None) => RevokeTarget::Key {
            key: key.clone(),
            product: body.product.clone(),
        },
        (None, None, Some(date)) => {
            let product = body.product.clone().ok_or_else(|| {
                Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid",
                    1,
                    "issued_before needs product",
                )
            })?;
            let before = airseal_vendor::time::parse_time(
                "issued_before",
                date,
                airseal_vendor::time::EndOfDay::No,
            )
            .map_err(|e| invalid(&e))?;
            RevokeTarget::IssuedBefore { product, before }
        }
        _ => {
            return Err(Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                1,
                "give exactly one of license_id, key and issued_before",
            ));
        }
    };
    let shared = Arc::clone(&state);
    let (report, list, bytes) = state
        .with_ledger_as(Some(caller.actor()), move |ledger| {
            let at = now();
            let report = ledger
                .revocations()
                .revoke(&target, body.reason.as_deref(), at)
                .map_err(|e| refusal(&e))?;
            let (list, bytes) =
                airseal_vendor::revoke::export_from(&shared.vendor, ledger, &shared.issuer, at)
                    .map_err(|e| refusal(&e))?;
            Ok::<_, Problem>((report, list, bytes))
        })
        .await??;
    Ok(Json(RevocationResponse {
        changed: report.changed,
        revoked: outcome_json(&report.outcome),
        seq: list.seq,
        list: armor(ObjectType::RevocationList.armor_label(), &bytes),
    }))
}

/// A page of a ledger listing, its filters, and its format.
#[derive(Clone, Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LedgerQuery {
    /// `json` (default) or `csv`.
    pub format: Option<String>,
    /// Rows to skip (default 0).
    pub offset: Option<u32>,
    /// Rows in the page (default 100, at most 1000).
    pub limit: Option<u32>,
    /// Only this product.
    pub product: Option<String>,
    /// Only this key (keys: keys starting with it).
    pub key: Option<String>,
    /// Only these licensee e-mail addresses (text contained, case ignored).
    pub email: Option<String>,
    /// Keys: only this status (`active`, `suspended`, `revoked`).
    pub status: Option<String>,
    /// Keys: only this customer's.
    pub customer: Option<i64>,
    /// Licenses and activations: only this license id.
    pub license: Option<String>,
    /// Activations: only seats still held.
    pub live: Option<bool>,
    /// Audit: only actions starting with this.
    pub action: Option<String>,
    /// Audit: only rows whose subject or detail contain this.
    pub search: Option<String>,
    /// Audit: only rows at or after this (YYYY-MM-DD or RFC 3339).
    pub since: Option<String>,
    /// Audit: only rows by this actor (`token:NAME`).
    pub actor: Option<String>,
}

/// The most rows of one page.
pub const MAX_PAGE: u32 = 1000;

/// Rows of one page when no limit is given.
pub const DEFAULT_PAGE: u32 = 100;

/// One page of a ledger listing (JSON).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Page {
    /// The rows, each an object keyed by the listing's columns.
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<Value>,
    /// Rows skipped.
    pub offset: u32,
    /// The page size asked for.
    pub limit: u32,
    /// The offset of the next page, when there may be one.
    pub next_offset: Option<u32>,
}

enum Format {
    Json,
    Csv,
}

struct Paging {
    format: Format,
    offset: u32,
    limit: u32,
}

impl LedgerQuery {
    fn paging(&self) -> Result<Paging, Problem> {
        let format = match self.format.as_deref() {
            None | Some("json") => Format::Json,
            Some("csv") => Format::Csv,
            Some(_) => {
                return Err(Problem::new(
                    StatusCode::BAD_REQUEST,
                    "invalid",
                    1,
                    "format: `json` or `csv`",
                ));
            }
        };
        let limit = self.limit.unwrap_or(DEFAULT_PAGE);
        if limit == 0 || limit > MAX_PAGE {
            return Err(Problem::new(
                StatusCode::BAD_REQUEST,
                "invalid",
                1,
                format!("limit: 1 to {MAX_PAGE}"),
            ));
        }
        Ok(Paging {
            format,
            offset: self.offset.unwrap_or(0),
            limit,
        })
    }
}

impl Paging {
    /// The listing's own limit: this page and one row more (to know whether there is a next
    /// page).
    fn fetch(&self) -> Option<u32> {
        Some(self.offset.saturating_add(self.limit).saturating_add(1))
    }

    /// The page of `rows` (the first `offset + limit + 1` of the listing).
    fn respond(&self, columns: &'static [&'static str], rows: Vec<Vec<Value>>) -> Response {
        let more = rows.len() > (self.offset as usize).saturating_add(self.limit as usize);
        let page = rows
            .into_iter()
            .skip(self.offset as usize)
            .take(self.limit as usize);
        match self.format {
            Format::Json => Json(Page {
                items: page.map(|r| listing::object(columns, r)).collect(),
                offset: self.offset,
                limit: self.limit,
                next_offset: more.then(|| self.offset.saturating_add(self.limit)),
            })
            .into_response(),
            Format::Csv => {
                let mut text =
                    listing::csv_line(&columns.iter().map(|c| json!(c)).collect::<Vec<_>>());
                for row in page {
                    text.push_str(&listing::csv_line(&row));
                }
                let mut r = text.into_response();
                r.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/csv; charset=utf-8"),
                );
                if more {
                    if let Ok(v) =
                        HeaderValue::from_str(&self.offset.saturating_add(self.limit).to_string())
                    {
                        r.headers_mut().insert("x-next-offset", v);
                    }
                }
                r
            }
        }
    }
}

/// Collects up to `limit` rows of a streaming listing into rows of cells.
fn walk<T>(
    each: impl FnOnce(&mut dyn FnMut(T) -> Result<(), LedgerError>) -> Result<u64, LedgerError>,
    row: fn(T) -> Vec<Value>,
) -> Result<Vec<Vec<Value>>, LedgerError> {
    let mut out = Vec::new();
    each(&mut |t| {
        out.push(row(t));
        Ok(())
    })?;
    Ok(out)
}

/// Lists keys, newest batch first, with their status and seat counts (`airseal ledger
/// keys`).
#[utoipa::path(get, path = "/v1/ledger/keys", tag = "admin",
    params(LedgerQuery),
    responses(
        (status = 200, description = "A page (JSON, or CSV with `format=csv`)", body = Page),
        (status = 400, description = "Bad parameters", body = crate::openapi::ProblemDoc),
        (status = 401, description = "No usable admin token", body = crate::openapi::ProblemDoc),
    ),
    security(("bearer" = [])))]
pub(crate) async fn ledger_keys(
    State(state): State<Arc<AppState>>,
    caller: AdminCaller,
    q: Result<Query<LedgerQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Problem> {
    let Query(q) = q.map_err(bad_query)?;
    let paging = q.paging()?;
    let status = q
        .status
        .as_deref()
        .map(KeyStatus::parse)
        .transpose()
        .map_err(|e| Problem::new(StatusCode::BAD_REQUEST, "invalid", 1, e))?;
    let filter = KeyFilter {
        product: q.product,
        key_prefix: q.key,
        email: q.email,
        status,
        customer: q.customer,
        limit: paging.fetch(),
    };
    let rows = state
        .with_ledger_as(Some(caller.actor()), move |ledger| {
            walk(|f| ledger.keys().for_each(&filter, f), listing::key_row)
        })
        .await?
        .map_err(|e| ledger_problem(&e))?;
    Ok(paging.respond(listing::KEY_COLUMNS, rows))
}

/// Lists every license signed (issued, batch, activation), newest first (`airseal ledger
/// licenses`).
#[utoipa::path(get, path = "/v1/ledger/licenses", tag = "admin",
    params(LedgerQuery),
    responses(
        (status = 200, description = "A page (JSON, or CSV with `format=csv`)", body = Page),
        (status = 400, description = "Bad parameters", body = crate::openapi::ProblemDoc),
        (status = 401, description = "No usable admin token", body = crate::openapi::ProblemDoc),
    ),
    security(("bearer" = [])))]
pub(crate) async fn ledger_licenses(
    State(state): State<Arc<AppState>>,
    caller: AdminCaller,
    q: Result<Query<LedgerQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Problem> {
    let Query(q) = q.map_err(bad_query)?;
    let paging = q.paging()?;
    let filter = LicenseFilter {
        product: q.product,
        key: q.key,
        license_id: q.license,
        email: q.email,
        source: None,
        limit: paging.fetch(),
    };
    let rows = state
        .with_ledger_as(Some(caller.actor()), move |ledger| {
            walk(
                |f| ledger.licenses().for_each(&filter, f),
                listing::license_row,
            )
        })
        .await?
        .map_err(|e| ledger_problem(&e))?;
    Ok(paging.respond(listing::LICENSE_COLUMNS, rows))
}

/// Lists activations (seats and trials) (`airseal ledger activations`).
#[utoipa::path(get, path = "/v1/ledger/activations", tag = "admin",
    params(LedgerQuery),
    responses(
        (status = 200, description = "A page (JSON, or CSV with `format=csv`)", body = Page),
        (status = 400, description = "Bad parameters", body = crate::openapi::ProblemDoc),
        (status = 401, description = "No usable admin token", body = crate::openapi::ProblemDoc),
    ),
    security(("bearer" = [])))]
pub(crate) async fn ledger_activations(
    State(state): State<Arc<AppState>>,
    caller: AdminCaller,
    q: Result<Query<LedgerQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Problem> {
    let Query(q) = q.map_err(bad_query)?;
    let paging = q.paging()?;
    let filter = ActivationFilter {
        product: q.product,
        key: q.key,
        license_id: q.license,
        device: None,
        email: q.email,
        live_only: q.live.unwrap_or(false),
        trials: None,
        limit: paging.fetch(),
    };
    let rows = state
        .with_ledger_as(Some(caller.actor()), move |ledger| {
            walk(
                |f| ledger.seats().for_each(&filter, f),
                listing::activation_row,
            )
        })
        .await?
        .map_err(|e| ledger_problem(&e))?;
    Ok(paging.respond(listing::ACTIVATION_COLUMNS, rows))
}

/// Lists the audit log, newest first, each row naming its actor (`token:NAME` for the
/// admin API) (`airseal ledger audit`).
#[utoipa::path(get, path = "/v1/ledger/audit", tag = "admin",
    params(LedgerQuery),
    responses(
        (status = 200, description = "A page (JSON, or CSV with `format=csv`)", body = Page),
        (status = 400, description = "Bad parameters", body = crate::openapi::ProblemDoc),
        (status = 401, description = "No usable admin token", body = crate::openapi::ProblemDoc),
    ),
    security(("bearer" = [])))]
pub(crate) async fn ledger_audit(
    State(state): State<Arc<AppState>>,
    caller: AdminCaller,
    q: Result<Query<LedgerQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Problem> {
    let Query(q) = q.map_err(bad_query)?;
    let paging = q.paging()?;
    let since = q
        .since
        .as_deref()
        .map(|s| airseal_vendor::time::parse_time("since", s, airseal_vendor::time::EndOfDay::No))
        .transpose()
        .map_err(|e| Problem::new(StatusCode::BAD_REQUEST, "invalid", 1, e.to_string()))?;
    let filter = AuditFilter {
        action: q.action,
        text: q.search,
        since,
        actor: q.actor,
        limit: paging.fetch(),
    };
    let rows = state
        .with_ledger_as(Some(caller.actor()), move |ledger| {
            walk(|f| ledger.audit().for_each(&filter, f), listing::audit_row)
        })
        .await?
        .map_err(|e| ledger_problem(&e))?;
    Ok(paging.respond(listing::AUDIT_COLUMNS, rows))
}

/// A body that is not the JSON the endpoint reads: 400 (415 without a JSON content type),
/// saying what was wrong without echoing the body.
fn bad_body(e: axum::extract::rejection::JsonRejection) -> Problem {
    let status = match e.status() {
        StatusCode::UNSUPPORTED_MEDIA_TYPE => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        StatusCode::PAYLOAD_TOO_LARGE => StatusCode::PAYLOAD_TOO_LARGE,
        _ => StatusCode::BAD_REQUEST,
    };
    Problem::new(status, "malformed", 10, e.body_text())
}

fn bad_query(e: axum::extract::rejection::QueryRejection) -> Problem {
    Problem::new(StatusCode::BAD_REQUEST, "invalid", 1, e.body_text())
}
