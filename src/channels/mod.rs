//! Channel adapters (issue #6, DESIGN.md §6): each speaks its provider's
//! wire format — verify and parse inbound webhooks into `InboundMessage`,
//! build outbound sends, map delivery statuses. So far: Twilio WhatsApp
//! ([`twilio`]), not yet wired to HTTP routes or the dispatcher.

pub mod delivery;
pub mod provider;
pub mod rate_limit;
pub mod request;
pub mod settings;
pub mod twilio;

pub use delivery::DeliveryStatus;
pub use provider::Provider;
pub use request::ProviderRequest;
