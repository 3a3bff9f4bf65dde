//! The portal's rate limits: token buckets (GCRA, `governor`) per client address and per
//! product key. A request over either limit is refused with 429 and `Retry-After`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

use governor::clock::{Clock as _, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::config::{Limits, Rate};
use crate::problem::Problem;
use crate::state::AppState;

type Keyed<K> = RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock>;

/// The service's buckets.
pub struct Limiters {
    per_client: Option<Keyed<IpAddr>>,
    per_key: Option<Keyed<String>>,
    clock: DefaultClock,
}

impl std::fmt::Debug for Limiters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiters")
            .field("per_client", &self.per_client.is_some())
            .field("per_key", &self.per_key.is_some())
            .finish()
    }
}

/// A request refused by a rate limit: retry after this many seconds (at least 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limited {
    /// Seconds to wait.
    pub retry_after: u64,
    /// Which limit refused it.
    pub by: LimitKind,
}

/// Which bucket was empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitKind {
    /// The client address's.
    Client,
    /// The product key's.
    Key,
}

fn quota(rate: Rate) -> Quota {
    Quota::per_minute(rate.per_minute).allow_burst(rate.burst)
}

impl Limiters {
    /// Buckets as `limits` says.
    pub fn new(limits: &Limits) -> Self {
        Self {
            per_client: limits.per_client.map(|r| RateLimiter::keyed(quota(r))),
            per_key: limits.per_key.map(|r| RateLimiter::keyed(quota(r))),
            clock: DefaultClock::default(),
        }
    }

    /// Takes one token from `client`'s bucket.
    ///
    /// # Errors
    /// [`Limited`] when the bucket is empty.
    pub fn check_client(&self, client: IpAddr) -> Result<(), Limited> {
        let Some(limiter) = &self.per_client else {
            return Ok(());
        };
        limiter.check_key(&client).map_err(|not_until| Limited {
            retry_after: seconds(not_until.wait_time_from(self.clock.now())),
            by: LimitKind::Client,
        })
    }

    /// Takes one token from the bucket of product key `key` (in its match form, so the
    /// same key typed differently shares a bucket).
    ///
    /// # Errors
    /// [`Limited`] when the bucket is empty.
    pub fn check_key(&self, key: &str) -> Result<(), Limited> {
        let Some(limiter) = &self.per_key else {
            return Ok(());
        };
        let key = airseal_core::productkey::match_form(key).into_owned();
        limiter.check_key(&key).map_err(|not_until| Limited {
            retry_after: seconds(not_until.wait_time_from(self.clock.now())),
            by: LimitKind::Key,
        })
    }
}

/// Whole seconds, rounded up, at least 1.
fn seconds(wait: std::time::Duration) -> u64 {
    let s = wait.as_secs();
    if wait.subsec_nanos() > 0 {
        s.saturating_add(1)
    } else {
        s.max(1)
    }
}

impl Limiters {
    /// Forgets buckets that are full again, so that memory follows recent clients only.
    /// The service calls it every minute.
    pub fn tidy(&self) {
        if let Some(l) = &self.per_client {
            l.retain_recent();
        }
        if let Some(l) = &self.per_key {
            l.retain_recent();
        }
    }
}

/// The client a portal request came from, once its address's bucket let it through: an
/// extractor, so a handler that takes a `Client` is rate-limited (429 problem otherwise).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Client {
    /// The client's address: the peer's, or behind a trusted reverse proxy the last
    /// `X-Forwarded-For` entry (the one the proxy added).
    pub ip: IpAddr,
}

impl Client {
    /// The audit log's actor for what this client does (`portal:ADDRESS`).
    pub fn actor(&self) -> String {
        format!("portal:{}", self.ip)
    }
}

/// The client address of a request (see [`Client::ip`]).
pub fn client_ip(parts: &Parts, behind_proxy: bool) -> IpAddr {
    if behind_proxy {
        let forwarded = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .next_back()
            .and_then(|a| a.trim().parse::<IpAddr>().ok());
        if let Some(ip) = forwarded {
            return ip;
        }
    }
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip())
}

impl FromRequestParts<Arc<AppState>> for Client {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let ip = client_ip(parts, state.config.limits.behind_proxy);
        state.limiters.check_client(ip)?;
        Ok(Self { ip })
    }
}
