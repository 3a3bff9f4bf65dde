//! TEMPORARY until the portal API's handlers land: the two operations the portal runs,
//! as `crate::portal_api` will share them (rate limit, one vendor call, typed refusal).

use std::net::IpAddr;
use std::sync::Arc;

use airseal_vendor::activate::{self, ActivationError, Deactivated, Response};

use crate::problem::Problem;
use crate::state::AppState;

/// Why a portal operation gave no answer.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The vendor library refused the file.
    Refused(ActivationError),
    /// The service could not run the operation (rate limit, busy, shutting down).
    Service(Problem),
}

impl Failure {
    pub(crate) fn refusal(&self) -> Option<&ActivationError> {
        match self {
            Self::Refused(e) => Some(e),
            Self::Service(_) => None,
        }
    }

    pub(crate) fn problem(&self) -> Problem {
        match self {
            Self::Refused(_) => Problem::new(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                "refused",
                1,
                "refused",
            ),
            Self::Service(p) => p.clone(),
        }
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

pub(crate) async fn activate(
    state: &Arc<AppState>,
    client: IpAddr,
    body: Vec<u8>,
) -> Result<Response, Failure> {
    let shared = Arc::clone(state);
    state
        .with_ledger_as(Some(format!("portal:{client}")), move |ledger| {
            activate::answer_request(ledger, &shared.issuer, shared.vendor.config(), &body, now())
                .map_err(Failure::Refused)
        })
        .await
        .map_err(Failure::Service)?
}

pub(crate) async fn deactivate(
    state: &Arc<AppState>,
    client: IpAddr,
    body: Vec<u8>,
) -> Result<Deactivated, Failure> {
    state
        .with_ledger_as(Some(format!("portal:{client}")), move |ledger| {
            activate::deactivate(ledger, &body, now()).map_err(Failure::Refused)
        })
        .await
        .map_err(Failure::Service)?
}
