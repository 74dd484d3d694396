//! Replies on Slack: `chat.postMessage` with the workspace's bot token, in
//! the thread of the customer's message (its `thread_ts`, else its `ts`),
//! in the channel or DM it came from. Slack sends no delivery receipts: a
//! posted message is `delivered`.

use super::{Accepted, SendFailure, execute};
use crate::channels::settings::SlackSettings;
use crate::channels::slack::{BotToken, parse_post_message_response, post_message_request};
use crate::dispatch::store::PendingReply;

pub async fn send(
    http: &reqwest::Client,
    settings: &SlackSettings,
    reply: &PendingReply,
) -> Result<Accepted, SendFailure> {
    let token = settings.bot_token_env.read().map_err(|e| SendFailure::permanent(e.to_string()))?;
    let token = BotToken::new(token.expose()).map_err(|e| SendFailure::permanent(e.to_string()))?;
    let origin = reply.origin.as_ref().map(|o| &o.metadata);
    let field = |name: &str| origin.and_then(|m| m.get(name)).and_then(|v| v.as_str()).map(str::to_string);
    let channel = field("channel").ok_or_else(|| {
        SendFailure::permanent("no Slack channel to answer in (the conversation has no Slack message)")
    })?;
    let thread = field("reply_thread_ts").or_else(|| field("thread_ts")).or_else(|| field("ts"));
    let request = post_message_request(&settings.base_url, &token, &channel, &reply.body, thread.as_deref())
        .map_err(|e| SendFailure::permanent(e.to_string()))?;
    let answer = execute(http, &request).await?;
    let retry_after = answer.retry_after_header();
    match parse_post_message_response(answer.status, retry_after.as_deref(), &answer.body) {
        Ok(posted) => Ok(Accepted {
            status: posted.delivery_status(),
            external_id: format!("{}:{}", posted.channel, posted.ts),
            metadata: serde_json::json!({ "provider": "slack", "thread_ts": thread }),
        }),
        Err(e) => Err(SendFailure { retryable: e.retryable(), retry_after: e.retry_after(), reason: e.to_string() }),
    }
}
