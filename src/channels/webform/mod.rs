//! The web support form channel (`Channel::Webform`): the hosted page
//! `/support`, the embeddable widget, and the two JSON endpoints behind
//! them. Nothing here does I/O: the HTTP server hands in the raw body and
//! the configured secret, and serves the embedded assets.
//!
//! - `request`: checks the body of `POST /support/api/tickets` into a
//!   `TicketRequest` (or honeypot `Spam`), every field error at once;
//!   `inbound` turns it into an `InboundMessage`.
//! - `category`: the fixed list of request categories.
//! - `token`: HMAC status-link tokens (`/support/tickets/{id}?token=…`).
//! - `api`: the JSON answers the widget reads (receipt, status view).
//! - `assets`: `widget.js`, `support.html` and `status.html`, embedded.
//! - `json_object`: the strict JSON object reader `request` uses.

pub mod api;
pub mod assets;
pub mod category;
mod inbound;
mod json_object;
pub mod request;
pub mod token;

pub use api::{Author, StatusMessage, SubmissionReceipt, TicketStatus, TicketStatusView, reference_for, status_path};
pub use assets::{STATUS_HTML, SUPPORT_HTML, WIDGET_JS, render_support_page};
pub use category::{Category, UnknownCategory};
pub use request::{FieldError, RequestError, Submission, TicketRequest};
pub use token::{StatusTokenKey, TokenError, issue, verify};
