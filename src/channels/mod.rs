//! Channel adapters (issue #6, DESIGN.md §6): each speaks its provider's
//! wire format — verify and parse inbound webhooks into `InboundMessage`,
//! build outbound sends, map delivery statuses. So far: Twilio WhatsApp
//! ([`twilio`]), not yet wired to HTTP routes or the dispatcher.

pub mod twilio;
