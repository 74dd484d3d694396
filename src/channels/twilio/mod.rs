//! The Twilio WhatsApp channel adapter: webhook signature checks
//! (`signature`), inbound messages (`inbound`), delivery-status callbacks
//! (`status`), the outbound Messages API request (`outbound`), and the
//! Messages list that finds a message an interrupted send left behind
//! (`lookup`). `form` holds the `application/x-www-form-urlencoded` codec
//! they share. Nothing here does I/O: the HTTP server hands in the raw
//! request, and the dispatcher sends the requests `outbound` and `lookup`
//! build with its own client.

pub mod form;
pub mod inbound;
pub mod lookup;
pub mod outbound;
pub mod signature;
pub mod status;

pub use form::{Form, FormError};
pub use inbound::{InboundError, Media, WhatsappInbound};
pub use lookup::{
    ListedMessage, LookupError, MessagePage, MessageQuery, PageScan, list_request, next_page_request,
    parse_list_response, scan_page,
};
pub use outbound::{OutboundError, SendRequest, SendResponse, TwilioApiError, TwilioCredentials, parse_send_response};
pub use signature::{RequestValidator, SignatureError};
pub use status::{DeliveryStatus, MessageStatus, StatusCallback, StatusError};
