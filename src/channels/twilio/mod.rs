//! The Twilio WhatsApp channel adapter: webhook signature checks
//! (`signature`), inbound messages (`inbound`), delivery-status callbacks
//! (`status`) and the outbound Messages API request (`outbound`). `form`
//! holds the `application/x-www-form-urlencoded` codec they share. Nothing
//! here does I/O: the HTTP server hands in the raw request, and the
//! dispatcher sends the request `outbound` builds with its own client.

pub mod form;
pub mod inbound;
pub mod outbound;
pub mod signature;
pub mod status;

pub use form::{Form, FormError};
pub use inbound::{InboundError, Media, WhatsappInbound};
pub use outbound::{OutboundError, SendRequest, SendResponse, TwilioApiError, TwilioCredentials, parse_send_response};
pub use signature::{RequestValidator, SignatureError};
pub use status::{DeliveryStatus, MessageStatus, StatusCallback, StatusError};
