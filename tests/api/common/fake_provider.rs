//! A local fake of a provider's HTTP API: records every request exactly as
//! it arrived (method, path and query, headers, body) and answers with a
//! scripted response (one scripted for the request's path first, then one
//! scripted for any path), else the default responder's, after the delay
//! set for the path if any. The channel tests point an account's base URL
//! at it and assert on the recorded requests.

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: String,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body's form fields (application/x-www-form-urlencoded).
    pub fn form(&self) -> Vec<(String, String)> {
        url_decode_pairs(&self.body)
    }

    /// The query string's fields.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        url_decode_pairs(self.query.as_deref().unwrap_or_default())
    }

    pub fn form_value(&self, name: &str) -> Option<String> {
        self.form().into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// The body as JSON; `Null` for an empty body (a GET), so a responder
    /// that reads JSON bodies also answers a provider's reads.
    pub fn json(&self) -> serde_json::Value {
        if self.body.is_empty() {
            return serde_json::Value::Null;
        }
        serde_json::from_str(&self.body).expect("the request body is JSON")
    }
}

fn url_decode_pairs(s: &str) -> Vec<(String, String)> {
    fn decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < bytes.len() => {
                    let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                    out.push(u8::from_str_radix(hex, 16).unwrap());
                    i += 2;
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8(out).unwrap()
    }
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// A response: status, headers, body.
pub type Reply = (u16, Vec<(String, String)>, String);
type Responder = Arc<dyn Fn(&Recorded) -> Reply + Send + Sync>;

#[derive(Clone)]
pub struct FakeProvider {
    pub base_url: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
    script: Arc<Mutex<VecDeque<Reply>>>,
    path_scripts: Arc<Mutex<HashMap<String, VecDeque<Reply>>>>,
    delays: Arc<Mutex<HashMap<String, Duration>>>,
}

impl FakeProvider {
    /// Starts the fake on a free port; `default` answers every request
    /// that no scripted reply is queued for.
    pub async fn start(default: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> Self {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(VecDeque::new()));
        let path_scripts: Arc<Mutex<HashMap<String, VecDeque<Reply>>>> = Arc::default();
        let delays: Arc<Mutex<HashMap<String, Duration>>> = Arc::default();
        let responder: Responder = Arc::new(default);
        let (r, s, ps, d) = (requests.clone(), script.clone(), path_scripts.clone(), delays.clone());
        let app = axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let (r, s, ps, d, responder) = (r.clone(), s.clone(), ps.clone(), d.clone(), responder.clone());
            async move {
                let rec = Recorded {
                    method: method.to_string(),
                    path: uri.path().to_string(),
                    query: uri.query().map(str::to_string),
                    headers,
                    body: String::from_utf8_lossy(&body).into_owned(),
                };
                let scripted = ps.lock().unwrap().get_mut(&rec.path).and_then(VecDeque::pop_front);
                let scripted = scripted.or_else(|| s.lock().unwrap().pop_front());
                let delay = d.lock().unwrap().get(&rec.path).copied();
                let reply = match scripted {
                    Some(reply) => reply,
                    None => responder(&rec),
                };
                r.lock().unwrap().push(rec);
                if let Some(delay) = delay {
                    tokio::time::sleep(delay).await;
                }
                let (status, headers, body) = reply;
                let mut response: Response = body.into_response();
                *response.status_mut() = axum::http::StatusCode::from_u16(status).unwrap();
                response.headers_mut().insert("content-type", "application/json".parse().unwrap());
                for (k, v) in headers {
                    response
                        .headers_mut()
                        .insert(axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
                }
                response
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { base_url: format!("http://{addr}"), requests, script, path_scripts, delays }
    }

    /// Queues replies for the next requests, in order.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.script.lock().unwrap().extend(replies);
    }

    /// Queues replies for the next requests to `path`, in order (before
    /// any reply queued with `script`).
    pub fn script_path(&self, path: &str, replies: impl IntoIterator<Item = Reply>) {
        self.path_scripts.lock().unwrap().entry(path.to_string()).or_default().extend(replies);
    }

    /// Answers every later request to `path` only after `delay`.
    pub fn delay_path(&self, path: &str, delay: Duration) {
        self.delays.lock().unwrap().insert(path.to_string(), delay);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    /// The requests to `path`, in arrival order.
    pub fn requests_to(&self, path: &str) -> Vec<Recorded> {
        self.requests().into_iter().filter(|r| r.path == path).collect()
    }

    /// Waits until at least `n` requests to `path` arrived.
    pub async fn wait_for_path(&self, path: &str, n: usize, within: Duration) -> Vec<Recorded> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let got = self.requests_to(path);
            if got.len() >= n {
                return got;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the fake provider got {} of {n} requests to {path}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until at least `n` requests arrived.
    pub async fn wait_for(&self, n: usize, within: std::time::Duration) -> Vec<Recorded> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let got = self.requests();
            if got.len() >= n {
                return got;
            }
            assert!(tokio::time::Instant::now() < deadline, "the fake provider got {} of {n} requests", got.len());
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

/// Runs tests/clients/signed_webhook.py (the providers' official SDKs
/// sign the request); returns the HTTP status and response body.
pub fn signed_webhook(args: &[&str]) -> (u16, String) {
    let python = std::env::var("FTE_PYTHON").expect("FTE_PYTHON is not set: run the tests with `make test`");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/signed_webhook.py");
    let out = std::process::Command::new(python).arg(script).args(args).output().expect("run signed_webhook.py");
    assert!(out.status.success(), "signed_webhook.py failed: {}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("signed_webhook.py prints JSON");
    (v["status"].as_u64().unwrap() as u16, v["body"].as_str().unwrap().to_string())
}
