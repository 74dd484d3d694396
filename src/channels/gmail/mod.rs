//! The Gmail channel adapter (`Channel::Email`). Inbound: a Cloud Pub/Sub
//! push (`push`), authenticated by its Google-signed OIDC token (`jwt`),
//! says a mailbox changed; the caller lists the history (`history`),
//! fetches each new message raw (`fetch`), and `email` parses it (`mime`,
//! `quoting`) into an `InboundMessage`, flagging auto-replies and the
//! mailbox's own mail so they are never answered. Outbound: `compose`
//! writes the RFC 5322 reply (with its `X-FTE-Reply-Id`), `send` builds
//! `users.messages.send`; a sent reply is found by its `Message-ID`
//! (`history`'s `message_id_search`) or, among the sent mail to the
//! customer (`history`'s `sent_to_search`), by the `X-FTE-Reply-Id` that
//! `fetch`'s `message_get_metadata` reads. Upkeep: `oauth` refreshes the
//! access token, `watch` renews the push watch. `api` holds the shared
//! base URL, request building and Google error classification. Those
//! modules do no I/O: every call is a `ProviderRequest`, and every answer
//! is parsed from (status, `Retry-After`, body). The I/O is `client`'s
//! (`GmailClient`: tokens cached, Google's keys, the mailbox sync a push
//! triggers, sends and the reads that find a sent message, watch renewal)
//! and `cursor`'s (where each mailbox's sync stands, in PostgreSQL).
//! `testkit` mints signed push tokens for tests and local fakes.

pub mod api;
pub mod b64;
mod client;
pub mod compose;
pub mod cursor;
pub mod email;
pub mod fetch;
pub mod history;
pub mod jwt;
pub mod mime;
pub mod oauth;
pub mod push;
pub mod quoting;
pub mod send;
pub mod testkit;
pub mod urlenc;
pub mod watch;

#[cfg(test)]
mod email_tests;

pub use api::{ApiError, DEFAULT_BASE_URL, GmailApi, GoogleError};
pub use client::{GmailClient, GmailIoError, MailboxBatch, run_watch_renewal, settings};
pub use compose::{
    BodyEncoding, ComposeError, ComposedMessage, REPLY_ID_HEADER, ReplyContext, compose_reply, reply_subject,
};
pub use email::{Automation, EmailMessage, IgnoreReason};
pub use fetch::{FetchedMessage, MessageMetadata, parse_message_metadata_response, parse_message_response};
pub use history::{
    AddedMessage, HistoryOutcome, HistoryPage, MessageListPage, parse_history_response, parse_message_list_response,
};
pub use jwt::{GOOGLE_CERTS_URL, Jwks, JwtError, PushClaims, PushTokenVerifier};
pub use mime::{MimeError, NamedAddress};
pub use oauth::{AccessToken, DEFAULT_TOKEN_URL, OAuthClient, OAuthError, parse_token_response};
pub use push::{GmailNotification, PushError};
pub use send::{SentMessage, parse_send_response};
pub use watch::{WatchResponse, parse_watch_response, watch_needs_renewal};
