//! The one way this service calls a provider's HTTP API: a
//! [`ProviderRequest`] built by an adapter goes out as is, and the answer
//! comes back as status, `Retry-After` and body for the adapter to read.
//! Used by the dispatcher (sends) and by the Gmail sync (reads).

use crate::channels::ProviderRequest;
use std::time::Duration;

/// A provider's answer.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    /// `Retry-After`, when given in seconds.
    pub retry_after: Option<Duration>,
    pub body: Vec<u8>,
}

impl Answer {
    /// `Retry-After` as the adapters' parsers take it.
    pub fn retry_after_header(&self) -> Option<String> {
        self.retry_after.map(|d| d.as_secs().to_string())
    }
}

/// No answer: the request could not be made or its answer not read. The
/// transport error leaves the URL out: some URLs name the customer (a Twilio
/// Messages list is filtered by their number).
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("the request could not be built: {0}")]
    Build(String),
    #[error("request failed: {0}")]
    Transport(#[source] reqwest::Error),
}

/// Performs `request` (an empty `authorization` sends no such header).
pub async fn call(http: &reqwest::Client, request: &ProviderRequest) -> Result<Answer, CallError> {
    let method = reqwest::Method::from_bytes(request.method.as_bytes()).map_err(|e| CallError::Build(e.to_string()))?;
    let mut builder = http.request(method, &request.url).header(reqwest::header::CONTENT_TYPE, request.content_type);
    if !request.authorization.is_empty() {
        builder = builder.header(reqwest::header::AUTHORIZATION, &request.authorization);
    }
    if !request.body.is_empty() {
        builder = builder.body(request.body.clone());
    }
    let response = builder.send().await.map_err(|e| CallError::Transport(e.without_url()))?;
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let body = response.bytes().await.map_err(|e| CallError::Transport(e.without_url()))?.to_vec();
    Ok(Answer { status, retry_after, body })
}
