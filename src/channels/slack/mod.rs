//! The Slack channel adapter (Events API + Web API): request signature
//! checks (`signature`), redelivery headers (`retry`), the request URL's
//! entry point (`inbound`), payload parsing with its ignore rules
//! (`events`), the kept customer message and its `InboundMessage`
//! (`message`), mrkdwn to plain text (`text`), the `chat.postMessage`
//! reply (`outbound`), the history read that finds a reply an
//! interrupted send posted (`lookup`), and the `users.info` read of a
//! sender's profile (`users`). Nothing here does I/O: the HTTP server
//! hands in the raw request, the dispatcher sends the requests `outbound`
//! and `lookup` build with its own client, and the CRM's Slack profile
//! lookup sends the one `users` builds.
//! `signature_vectors.json` holds known-answer vectors from slack_sdk (see
//! `signature`'s tests).
//!
//! Flow: `parse_request` → `EventOutcome::UrlVerification` (echo the
//! challenge), `Ignored` (answer 200, nothing else), or `Message`: dedupe
//! the delivery on `event_id`, resolve the tenant from `team_id`, then
//! `into_inbound_message` (external id `channel:ts`); the reply goes to
//! `metadata.channel` in the thread `metadata.reply_thread_ts`.

pub mod events;
pub mod inbound;
pub mod lookup;
pub mod message;
pub mod outbound;
mod profiles;
pub mod retry;
pub mod signature;
pub mod text;
pub mod users;

pub use events::{EventOutcome, IgnoreReason};
pub use inbound::{InboundError, parse_request};
pub use lookup::{HistoryMessage, HistoryPage, LookupError, find_reply, find_reply_request, parse_history_response};
pub use message::{SlackEventKind, SlackFile, SlackMessage};
pub use outbound::{
    BotToken, OutboundError, PostedMessage, REPLY_EVENT_TYPE, parse_post_message_response, post_message_request,
};
pub use profiles::{LOOKUP_TIMEOUT, SlackProfiles, SlackProfilesConfig};
pub use retry::{RetryHeaderError, RetryInfo, RetryReason};
pub use signature::{SignatureError, SignatureVerifier, SigningSecret};
pub use users::{SlackProfile, UsersError, parse_users_info_response, users_info_request};
