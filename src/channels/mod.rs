//! Channel adapters (docs/channels.md): each speaks its provider's
//! wire format — verify and parse inbound webhooks into `InboundMessage`,
//! build outbound sends, map delivery statuses — without doing I/O (the
//! webhook handlers in `http::webhooks` and the dispatcher do it): Twilio
//! and Meta WhatsApp, Slack, Gmail, and the web form. Also here: channel
//! account settings, the delivery states, rate limits.

pub mod delivery;
pub mod gmail;
pub mod meta;
pub mod provider;
pub mod rate_limit;
pub mod request;
pub mod settings;
pub mod slack;
pub mod twilio;
pub mod webform;

pub use delivery::DeliveryStatus;
pub use provider::Provider;
pub use request::ProviderRequest;
