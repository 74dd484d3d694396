//! A customer's Slack message, as `events::parse` keeps it, and its
//! conversion into the runtime's `InboundMessage`. Owns `SlackMessage`,
//! `SlackEventKind` and `SlackFile`.
//!
//! The dedupe key (`external_id`) is `{channel}:{ts}`, the message's own
//! identity, not the delivery's: `ts` is unique within a channel and is
//! what every Slack API uses to name a message. `event_id` names one
//! *event* (Slack's retries repeat it, so the HTTP layer dedupes deliveries
//! on it), but one message can produce several events with different
//! `event_id`s: an `app_mention` and a `message.channels` event if the app
//! ever subscribes to both, or a `message.im` for the same DM seen by two
//! installations. Keyed on `channel:ts`, all of them land on one row.
//! `client_msg_id` also names the message, but it is optional in Slack's
//! event types (absent, e.g., on messages posted through the API).

use super::text::readable_text;
use crate::domain::{Channel, Identifier, InboundMessage, SlackUserId, TenantId, limit_body};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// How the message reached us.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlackEventKind {
    /// `app_mention`: the app was @-mentioned in a channel.
    AppMention,
    /// `message` with `channel_type: "im"`: a direct message to the app.
    DirectMessage,
}

impl SlackEventKind {
    /// The Events API event type.
    pub fn event_type(&self) -> &'static str {
        match self {
            Self::AppMention => "app_mention",
            Self::DirectMessage => "message",
        }
    }
}

/// A file attached to the message. Fetching `url_private` needs the bot
/// token (`Authorization: Bearer xoxb-…`) and the `files:read` scope.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlackFile {
    pub id: String,
    pub name: Option<String>,
    pub mimetype: Option<String>,
    pub url_private: Option<String>,
}

/// A message a person sent the app, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlackMessage {
    pub kind: SlackEventKind,
    /// The workspace the event was delivered for: the caller maps it to a
    /// tenant.
    pub team_id: String,
    pub api_app_id: String,
    /// The delivery's id: retries repeat it; dedupe deliveries on it.
    pub event_id: String,
    /// When the event happened (Unix seconds).
    pub event_time: Option<i64>,
    pub enterprise_id: Option<String>,
    pub user: SlackUserId,
    /// The author's own workspace when it is not `team_id` (a Slack
    /// Connect channel shared with a customer's organisation).
    pub user_team: Option<String>,
    /// The text as Slack sent it (mrkdwn, escaped); `body()` is readable.
    pub text: String,
    pub ts: String,
    /// The thread's parent `ts`, when the message is a thread reply.
    pub thread_ts: Option<String>,
    pub channel: String,
    /// `im` for direct messages; absent on `app_mention`.
    pub channel_type: Option<String>,
    pub client_msg_id: Option<String>,
    /// `file_share` or `thread_broadcast`, the subtypes that are kept.
    pub subtype: Option<String>,
    /// The app's bot user, whose mention is removed from the body: from
    /// the payload's `authorizations`, or set with `with_bot_user_id`.
    pub bot_user_id: Option<String>,
    pub files: Vec<SlackFile>,
}

impl SlackMessage {
    /// Sets the app's bot user id (from the installation: `auth.test` or
    /// the OAuth answer's `bot_user_id`), which Slack's `authorizations`
    /// may not name.
    pub fn with_bot_user_id(mut self, bot_user_id: &str) -> Self {
        self.bot_user_id = Some(bot_user_id.to_string()).filter(|b| !b.is_empty());
        self
    }

    /// The message's identity, `{channel}:{ts}`: the `external_id`.
    pub fn dedupe_key(&self) -> String {
        format!("{}:{}", self.channel, self.ts)
    }

    /// The `thread_ts` for the reply: the thread the message is in, or the
    /// message itself, which starts a thread (replies always go in the
    /// thread).
    pub fn reply_thread_ts(&self) -> &str {
        self.thread_ts.as_deref().unwrap_or(&self.ts)
    }

    /// The text for the agent: the app's mention removed, other mentions
    /// and links readable, `&amp;` `&lt;` `&gt;` decoded.
    pub fn body(&self) -> String {
        readable_text(&self.text, self.bot_user_id.as_deref())
    }

    /// The runtime's message. A body longer than `MAX_BODY_CHARS` is cut and
    /// the cut recorded as `metadata.body_truncated`; `metadata` keeps what
    /// the reply needs (`channel`, `reply_thread_ts`, `team_id`) and the
    /// rest of the event's identity.
    pub fn into_inbound_message(self, tenant_id: TenantId, received_at: DateTime<Utc>) -> InboundMessage {
        let full = self.body();
        let mut metadata = json!({
            "provider": "slack",
            "team_id": self.team_id,
            "enterprise_id": self.enterprise_id,
            "api_app_id": self.api_app_id,
            "event_id": self.event_id,
            "event_time": self.event_time,
            "event_type": self.kind.event_type(),
            "channel": self.channel,
            "channel_type": self.channel_type,
            "ts": self.ts,
            "thread_ts": self.thread_ts,
            "reply_thread_ts": self.reply_thread_ts(),
            "client_msg_id": self.client_msg_id,
            "user_team": self.user_team,
            "subtype": self.subtype,
            "bot_user_id": self.bot_user_id,
            "files": self.files,
        });
        InboundMessage {
            tenant_id,
            channel: Channel::Slack,
            external_id: self.dedupe_key(),
            sender: Identifier::Slack(self.user),
            identifiers: Vec::new(),
            display_name: None,
            subject: None,
            body: limit_body(full, &mut metadata),
            received_at,
            metadata,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::MAX_BODY_CHARS;
    use chrono::TimeZone;
    use uuid::Uuid;

    fn sample() -> SlackMessage {
        SlackMessage {
            kind: SlackEventKind::AppMention,
            team_id: "T123ABC456".into(),
            api_app_id: "A123ABC456".into(),
            event_id: "Ev123ABC456".into(),
            event_time: Some(1_515_449_522),
            enterprise_id: None,
            user: SlackUserId::parse("U061F7AUR").unwrap(),
            user_team: Some("T999CUSTOMER".into()),
            text: "<@U0LAN0Z89> can <@U024BE7LH> export R&amp;D hours? &lt;urgent&gt;".into(),
            ts: "1515449522.000016".into(),
            thread_ts: None,
            channel: "C123ABC456".into(),
            channel_type: None,
            client_msg_id: None,
            subtype: None,
            bot_user_id: Some("U0LAN0Z89".into()),
            files: Vec::new(),
        }
    }

    fn tenant() -> TenantId {
        TenantId::from_uuid(Uuid::from_u128(7))
    }

    fn received() -> DateTime<Utc> {
        Utc.timestamp_opt(1_515_449_523, 0).unwrap()
    }

    #[test]
    fn converts_to_an_inbound_message() {
        let m = sample().into_inbound_message(tenant(), received());
        assert_eq!(m.tenant_id, tenant());
        assert_eq!(m.channel, Channel::Slack);
        assert_eq!(m.external_id, "C123ABC456:1515449522.000016");
        assert_eq!(m.sender, Identifier::Slack(SlackUserId::parse("U061F7AUR").unwrap()));
        assert_eq!(m.body, "can @U024BE7LH export R&D hours? <urgent>");
        assert_eq!(m.received_at, received());
        assert_eq!(m.subject, None);
        assert_eq!(m.metadata["provider"], "slack");
        assert_eq!(m.metadata["team_id"], "T123ABC456");
        assert_eq!(m.metadata["channel"], "C123ABC456");
        assert_eq!(m.metadata["ts"], "1515449522.000016");
        assert_eq!(m.metadata["thread_ts"], serde_json::Value::Null);
        assert_eq!(m.metadata["reply_thread_ts"], "1515449522.000016");
        assert_eq!(m.metadata["event_id"], "Ev123ABC456");
        assert_eq!(m.metadata["event_type"], "app_mention");
        assert_eq!(m.metadata["user_team"], "T999CUSTOMER");
        assert!(m.metadata.get("body_truncated").is_none());
    }

    #[test]
    fn replies_go_in_the_existing_thread() {
        let mut s = sample();
        s.thread_ts = Some("1515449000.000100".into());
        assert_eq!(s.reply_thread_ts(), "1515449000.000100");
        let m = s.into_inbound_message(tenant(), received());
        assert_eq!(m.metadata["thread_ts"], "1515449000.000100");
        assert_eq!(m.metadata["reply_thread_ts"], "1515449000.000100");
        // The message itself is still named by its own ts.
        assert_eq!(m.external_id, "C123ABC456:1515449522.000016");
    }

    #[test]
    fn the_same_message_through_two_events_has_one_key() {
        let a = sample();
        let mut b = sample();
        b.kind = SlackEventKind::DirectMessage;
        b.event_id = "Ev999OTHER".into();
        assert_eq!(a.dedupe_key(), b.dedupe_key());
        assert_ne!(a.event_id, b.event_id);
    }

    #[test]
    fn cuts_long_bodies_and_records_it() {
        let mut s = sample();
        s.text = format!("<@U0LAN0Z89> {}", "é".repeat(MAX_BODY_CHARS + 5));
        let m = s.into_inbound_message(tenant(), received());
        assert_eq!(m.body.chars().count(), MAX_BODY_CHARS);
        assert_eq!(m.metadata["body_truncated"]["original_chars"], MAX_BODY_CHARS + 5);
    }

    #[test]
    fn keeps_files_in_metadata() {
        let mut s = sample();
        s.files.push(SlackFile {
            id: "F0RDC39U1".into(),
            name: Some("invoice.pdf".into()),
            mimetype: Some("application/pdf".into()),
            url_private: Some("https://files.slack.com/files-pri/T1-F0RDC39U1/invoice.pdf".into()),
        });
        let m = s.into_inbound_message(tenant(), received());
        assert_eq!(m.metadata["files"][0]["id"], "F0RDC39U1");
        assert_eq!(m.metadata["files"][0]["mimetype"], "application/pdf");
    }
}
