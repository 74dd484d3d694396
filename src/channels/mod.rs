//! The channels (docs/channels.md), one module per provider: Twilio and
//! Meta WhatsApp, Slack, Gmail, and the web form. Each speaks its
//! provider's wire format — verify and parse inbound webhooks into
//! `InboundMessage`, build outbound requests (`ProviderRequest`), map
//! delivery statuses — as pure functions; the webhook handlers in
//! `http::webhooks` and the dispatcher's senders (`delivery::dispatch`)
//! call them. The I/O that belongs to one provider and not to a reply's
//! send is in that provider's module too: Gmail's OAuth tokens, push keys,
//! mailbox sync and watch renewal (`gmail::client`, `gmail::cursor`), the
//! Slack profile read before identity resolution (`slack::SlackProfiles`).
//! Every request goes out through `provider_http`. Also here: channel
//! account settings, the delivery states, rate limits.

pub mod delivery;
pub mod gmail;
pub mod meta;
pub mod provider_http;
pub mod rate_limit;
pub mod request;
pub mod settings;
pub mod slack;
pub mod twilio;
pub mod webform;

pub use delivery::DeliveryStatus;
pub use request::ProviderRequest;
