//! `ProviderRequest`: an HTTP request an adapter has built for its
//! provider's API, sent as is by the dispatcher's client. Adapters build
//! requests and parse answers without doing I/O, so each is tested on its
//! own bytes; the one HTTP client lives in the dispatcher.

use std::fmt;

/// An HTTP request to send as is.
#[derive(Clone, PartialEq, Eq)]
pub struct ProviderRequest {
    pub method: &'static str,
    pub url: String,
    /// `Authorization` header (carries a credential: never log it).
    pub authorization: String,
    /// `Content-Type` header.
    pub content_type: &'static str,
    pub body: String,
}

impl fmt::Debug for ProviderRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("authorization", &"<redacted>")
            .field("body", &self.body)
            .finish()
    }
}
