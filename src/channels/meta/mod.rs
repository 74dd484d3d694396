//! The Meta WhatsApp Cloud API channel adapter (`Channel::Whatsapp`,
//! provider `meta`): the webhook verification handshake (`verify`),
//! `X-Hub-Signature-256` checks (`signature`), webhook POSTs batching
//! customer messages and delivery statuses (`webhook`, `message`, `status`,
//! with `json` reading Meta's loosely typed fields), outbound sends
//! (`outbound`, `template`) and their answers (`response`), and the
//! 24-hour customer-service window (`window`). Nothing here does I/O: the
//! HTTP server hands in raw requests, and the dispatcher sends the
//! `ProviderRequest`s built here with its own client. The caller maps each
//! message's `phone_number_id` to its tenant.

mod json;
pub mod message;
pub mod outbound;
pub mod response;
pub mod signature;
pub mod status;
pub mod template;
pub mod verify;
pub mod webhook;
pub mod window;

#[cfg(test)]
mod fixtures;

pub use json::MetaError;
pub use message::{Location, Media, MediaKind, MessageContent, MetaInbound, PROVIDER, ReplyContext, ReplyKind};
pub use outbound::{AccessToken, DEFAULT_API_VERSION, DEFAULT_BASE_URL, MAX_TEXT_CHARS, MetaSender, OutboundError};
pub use response::{GraphApiError, SendResponse, parse_send_response};
pub use signature::{AppSecret, SIGNATURE_HEADER, SignatureError};
pub use status::{MetaStatus, RE_ENGAGEMENT_CODE, StatusKind};
pub use template::Template;
pub use verify::{VerifyError, parse_query, verify_subscription};
pub use webhook::{AccountError, ItemError, Skipped, WebhookBatch, WebhookError, parse_signed_webhook, parse_webhook};
pub use window::{
    OutboundPlan, PlanError, SERVICE_WINDOW, plan_outbound, service_window_closes_at, service_window_open,
};
