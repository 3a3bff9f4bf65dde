//! Talking HTTP to a running `airseal serve` ([`super::service::Service`]) with ureq, for the
//! service's API tests: answers with their status, headers and body, and problem checks.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use super::service::Service;

/// A service signing with the root key (these tests are about the API, not the signer),
/// and an HTTP client for it.
pub struct Api {
    /// The running service (stopped when dropped).
    pub service: Service,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    agent: ureq::Agent,
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    /// The status.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: String,
    /// Every header.
    pub headers: Vec<(String, String)>,
    /// The body, as text.
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    #[track_caller]
    pub fn ok(&self, status: u16) -> Value {
        assert_eq!(self.status, status, "{}", self.body);
        self.json()
    }

    /// Asserts a problem with `status` and `error`; the document.
    #[track_caller]
    pub fn problem(&self, status: u16, error: &str) -> Value {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(self.content_type, "application/problem+json");
        let p = self.json();
        assert_eq!(p["error"], error, "{p}");
        assert_eq!(p["status"], status);
        p
    }
}

impl Api {
    /// `airseal serve --allow-root-key ARGS` in `dir` (a vendor folder).
    pub fn start(dir: &Path, args: &[&str]) -> Self {
        let mut all = vec!["--allow-root-key"];
        all.extend(args);
        let service = Service::start(dir, &all);
        let base = service.url.clone();
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        Self {
            service,
            base,
            agent,
        }
    }

    fn answer(mut r: ureq::http::Response<ureq::Body>) -> Answer {
        let headers = r
            .headers()
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect::<Vec<_>>();
        let content_type = headers
            .iter()
            .find(|(n, _)| n == "content-type")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        Answer {
            status: r.status().as_u16(),
            content_type,
            headers,
            body: r.body_mut().read_to_string().unwrap(),
        }
    }

    /// `GET path`, with a bearer token if given.
    pub fn get(&self, path: &str, token: Option<&str>) -> Answer {
        let mut req = self.agent.get(format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        Self::answer(req.call().unwrap())
    }

    /// `METHOD path` with a JSON body, with a bearer token if given.
    pub fn send(&self, method: &str, path: &str, token: Option<&str>, body: &Value) -> Answer {
        let url = format!("{}{path}", self.base);
        let mut req = match method {
            "POST" => self.agent.post(url),
            "PATCH" => self.agent.patch(url),
            other => panic!("{other}"),
        };
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        Self::answer(
            req.header("content-type", "application/json")
                .send(body.to_string())
                .unwrap(),
        )
    }

    /// `POST path` with a text body (an armored request or proof), no token.
    pub fn post_text(&self, path: &str, body: &str) -> Answer {
        Self::answer(
            self.agent
                .post(format!("{}{path}", self.base))
                .header("content-type", "text/plain")
                .send(body)
                .unwrap(),
        )
    }
}
