//! The process's HTTP clients, built once per configuration and shared.
//! Building a `reqwest::Client` reads and parses the system's root
//! certificates and starts an empty connection pool, so no request path
//! builds one: every client comes from here, and clones share one pool.
//! - [`http`]: one `reqwest::Client` per [`HttpOptions`] (its timeouts),
//!   kept for the life of the process. Provider APIs (dispatcher, Gmail)
//!   and Slack profile reads use it.
//! - [`openai`]: one async-openai client per endpoint, keyed by its base URL
//!   and a SHA-256 of its API key (a new key or base URL gets a new client),
//!   all over the one `http(HttpOptions::default())` client. The agent's
//!   model endpoints and the OpenAI embedder use it; callers bound each
//!   request themselves (the model brain's `timeout_ms`).
//!
//! [`http_clients_built`] and [`openai_clients_built`] count the builds.

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use dashmap::DashMap;
use dashmap::mapref::entry::Entry;
use sha2::{Digest, Sha256};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// What tells one `reqwest::Client` from another here (every client sends
/// the same `User-Agent`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct HttpOptions {
    /// Whole-request timeout; `None` leaves it to the caller.
    pub timeout: Option<Duration>,
    pub connect_timeout: Option<Duration>,
}

/// An endpoint's async-openai client: where it goes, with which key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct EndpointKey {
    api_base: String,
    /// SHA-256 of the API key (not held in the clear); `None` for a
    /// server without authentication (an empty key is sent).
    api_key: Option<[u8; 32]>,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("the API key is not a valid header value")]
    InvalidKey,
    #[error("the HTTP client cannot be built: {0}")]
    Http(#[from] reqwest::Error),
}

/// Endpoints cached before the cache starts over (keys rotated many times
/// in one process's life); far above any real number of endpoints.
const MAX_ENDPOINTS: usize = 256;

static HTTP: LazyLock<DashMap<HttpOptions, reqwest::Client>> = LazyLock::new(DashMap::new);
static HTTP_BUILT: AtomicUsize = AtomicUsize::new(0);
static OPENAI: LazyLock<DashMap<EndpointKey, Client<OpenAIConfig>>> = LazyLock::new(DashMap::new);
/// async-openai clients built, per base URL.
static OPENAI_BUILT: LazyLock<DashMap<String, usize>> = LazyLock::new(DashMap::new);

/// The shared `reqwest::Client` for `options`, built on first use.
pub fn http(options: HttpOptions) -> Result<reqwest::Client, reqwest::Error> {
    if let Some(client) = HTTP.get(&options) {
        return Ok(client.clone());
    }
    match HTTP.entry(options) {
        Entry::Occupied(e) => Ok(e.get().clone()),
        Entry::Vacant(e) => {
            let mut builder = reqwest::Client::builder().user_agent(concat!("fte/", env!("CARGO_PKG_VERSION")));
            if let Some(t) = options.timeout {
                builder = builder.timeout(t);
            }
            if let Some(t) = options.connect_timeout {
                builder = builder.connect_timeout(t);
            }
            let client = builder.build()?;
            HTTP_BUILT.fetch_add(1, Ordering::Relaxed);
            Ok(e.insert(client).clone())
        }
    }
}

/// The async-openai client for the endpoint at `api_base` with `api_key`,
/// built on first use over the shared HTTP client.
pub fn openai(api_base: &str, api_key: Option<&str>) -> Result<Client<OpenAIConfig>, ClientError> {
    if api_key.is_some_and(|k| reqwest::header::HeaderValue::from_str(k).is_err()) {
        return Err(ClientError::InvalidKey);
    }
    let key =
        EndpointKey { api_base: api_base.to_string(), api_key: api_key.map(|k| Sha256::digest(k.as_bytes()).into()) };
    if let Some(client) = OPENAI.get(&key) {
        return Ok(client.clone());
    }
    let http = http(HttpOptions::default())?;
    if OPENAI.len() >= MAX_ENDPOINTS {
        OPENAI.clear();
    }
    Ok(match OPENAI.entry(key) {
        Entry::Occupied(e) => e.get().clone(),
        Entry::Vacant(e) => {
            // Without a key, an empty one: async-openai's default would be
            // `OPENAI_API_KEY`, sent to whatever server the base URL names.
            let config = OpenAIConfig::new().with_api_base(api_base).with_api_key(api_key.unwrap_or_default());
            *OPENAI_BUILT.entry(api_base.to_string()).or_insert(0) += 1;
            e.insert(Client::build(http, config)).clone()
        }
    })
}

/// `reqwest::Client`s built so far in this process.
pub fn http_clients_built() -> usize {
    HTTP_BUILT.load(Ordering::Relaxed)
}

/// async-openai clients built so far in this process for `api_base` (any
/// key).
pub fn openai_clients_built(api_base: &str) -> usize {
    OPENAI_BUILT.get(api_base).map_or(0, |n| *n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_openai::config::Config;

    #[test]
    fn the_same_endpoint_gets_the_same_client_and_a_new_key_a_new_one() {
        let base = "http://same-endpoint.invalid/v1";
        openai(base, Some("sk-a")).unwrap();
        openai(base, Some("sk-a")).unwrap();
        assert_eq!(openai_clients_built(base), 1);
        openai(base, Some("sk-b")).unwrap();
        assert_eq!(openai_clients_built(base), 2, "a new key is a new client");
        openai(base, None).unwrap();
        assert_eq!(openai_clients_built(base), 3, "no key is another client");
        openai(base, Some("sk-a")).unwrap();
        openai(base, Some("sk-b")).unwrap();
        openai(base, None).unwrap();
        assert_eq!(openai_clients_built(base), 3);
    }

    #[test]
    fn two_base_urls_get_two_clients() {
        let (one, two) = ("http://endpoint-one.invalid/v1", "http://endpoint-two.invalid/v1");
        let a = openai(one, Some("sk")).unwrap();
        let b = openai(two, Some("sk")).unwrap();
        assert_eq!((openai_clients_built(one), openai_clients_built(two)), (1, 1));
        assert_eq!((a.config().api_base(), b.config().api_base()), (one, two));
        assert!(HTTP.contains_key(&HttpOptions::default()), "both over the shared HTTP client");
    }

    #[test]
    fn a_key_that_cannot_be_a_header_is_refused() {
        let base = "http://bad-key.invalid/v1";
        assert!(matches!(openai(base, Some("sk-a\n")), Err(ClientError::InvalidKey)));
        assert_eq!(openai_clients_built(base), 0);
    }

    // Counts every build in the process: nextest runs each test in its own.
    #[test]
    fn http_clients_are_built_once_per_options() {
        let one = HttpOptions { timeout: Some(Duration::from_millis(12_345)), connect_timeout: None };
        let two = HttpOptions { connect_timeout: Some(Duration::from_secs(1)), ..one };
        let before = http_clients_built();
        http(one).unwrap();
        http(one).unwrap();
        assert_eq!(http_clients_built() - before, 1);
        http(two).unwrap();
        http(one).unwrap();
        assert_eq!(http_clients_built() - before, 2);
    }
}
