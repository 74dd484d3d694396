//! Replies on Slack: `chat.postMessage` with the workspace's bot token, in
//! the thread of the customer's message (its `thread_ts`, else its `ts`),
//! in the channel or DM it came from, carrying the reply's id as message
//! metadata. Slack sends no delivery receipts: a posted message is
//! `delivered`. An earlier attempt is looked for in the same thread (or
//! conversation) by that metadata (`channels::slack::lookup`).

use super::{Accepted, CLOCK_SKEW, Lookup, MAX_LOOKUP_PAGES, SendFailure, execute};
use crate::channels::settings::SlackSettings;
use crate::channels::slack::{
    BotToken, PostedMessage, find_reply, find_reply_request, parse_history_response, parse_post_message_response,
    post_message_request,
};
use crate::delivery::dispatch::store::PendingReply;

fn bot_token(settings: &SlackSettings) -> Result<BotToken, SendFailure> {
    let token = settings.bot_token_env.read().map_err(|e| SendFailure::permanent(e.to_string()))?;
    BotToken::new(token.expose()).map_err(|e| SendFailure::permanent(e.to_string()))
}

/// The channel the reply goes to and the thread it goes in, from the
/// customer's message.
fn target(reply: &PendingReply) -> Result<(String, Option<String>), SendFailure> {
    let origin = reply.origin.as_ref().map(|o| &o.metadata);
    let field = |name: &str| origin.and_then(|m| m.get(name)).and_then(|v| v.as_str()).map(str::to_string);
    let channel = field("channel").ok_or_else(|| {
        SendFailure::permanent("no Slack channel to answer in (the conversation has no Slack message)")
    })?;
    let thread = field("reply_thread_ts").or_else(|| field("thread_ts")).or_else(|| field("ts"));
    Ok((channel, thread))
}

fn accepted(posted: PostedMessage, thread: Option<String>) -> Accepted {
    Accepted {
        status: posted.delivery_status(),
        external_id: format!("{}:{}", posted.channel, posted.ts),
        metadata: serde_json::json!({ "provider": "slack", "thread_ts": thread }),
    }
}

pub async fn send(
    http: &reqwest::Client,
    settings: &SlackSettings,
    reply: &PendingReply,
) -> Result<Accepted, SendFailure> {
    let token = bot_token(settings)?;
    let (channel, thread) = target(reply)?;
    let reply_id = reply.message_id.to_string();
    let request =
        post_message_request(&settings.base_url, &token, &channel, &reply.body, thread.as_deref(), Some(&reply_id))
            .map_err(|e| SendFailure::permanent(e.to_string()))?;
    let answer = execute(http, &request).await?;
    let retry_after = answer.retry_after_header();
    match parse_post_message_response(answer.status, retry_after.as_deref(), &answer.body) {
        Ok(posted) => Ok(accepted(posted, thread)),
        Err(e) => Err(SendFailure {
            retryable: e.retryable(),
            retry_after: e.retry_after(),
            reason: e.to_string(),
            unanswered: false,
        }),
    }
}

/// Looks for the message carrying `reply`'s id in its thread (or, outside
/// a thread, its conversation) from `since` (less `CLOCK_SKEW`) on.
pub async fn find_sent(
    http: &reqwest::Client,
    settings: &SlackSettings,
    reply: &PendingReply,
    since: chrono::DateTime<chrono::Utc>,
    taken: &[String],
) -> Result<Lookup, SendFailure> {
    let token = bot_token(settings)?;
    let (channel, thread) = target(reply)?;
    let reply_id = reply.message_id.to_string();
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_LOOKUP_PAGES {
        let request = find_reply_request(
            &settings.base_url,
            &token,
            &channel,
            thread.as_deref(),
            since - CLOCK_SKEW,
            cursor.as_deref(),
        )
        .map_err(|e| SendFailure::permanent(e.to_string()))?;
        let answer = execute(http, &request).await?;
        let retry_after = answer.retry_after_header();
        let page =
            parse_history_response(answer.status, retry_after.as_deref(), &answer.body).map_err(|e| SendFailure {
                retryable: e.retryable(),
                retry_after: e.retry_after(),
                reason: e.to_string(),
                unanswered: false,
            })?;
        if let Some(posted) = find_reply(&page, &channel, &reply_id, taken) {
            return Ok(Lookup::Found(accepted(posted, thread)));
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(Lookup::NotFound),
        }
    }
    Err(SendFailure::permanent(format!(
        "more than {MAX_LOOKUP_PAGES} pages of Slack messages since {since}: cannot tell whether the reply was posted"
    )))
}
