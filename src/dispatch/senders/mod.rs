//! The channel side of a delivery: which account a reply goes out on (the
//! one the customer wrote to, else the tenant's first on that channel),
//! the request its provider needs, and what the answer means. One file per
//! provider; this one holds the shared HTTP step, so every provider's
//! answer is read the same way (status, `Retry-After`, body).

mod meta;
mod slack;
mod twilio;

use super::store::PendingReply;
use crate::channels::settings::AccountSettings;
use crate::channels::{DeliveryStatus, ProviderRequest};
use crate::crm::{ChannelAccount, get_account, tenant_accounts};
use crate::domain::Identifier;
use sqlx::PgPool;
use std::time::Duration;

/// A provider's acceptance of a reply.
#[derive(Clone, Debug, PartialEq)]
pub struct Accepted {
    /// The provider's id of the message (stored as `external_id`).
    pub external_id: String,
    pub status: DeliveryStatus,
    /// Merged into the reply's metadata.
    pub metadata: serde_json::Value,
}

/// Why a send did not go through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendFailure {
    pub reason: String,
    pub retryable: bool,
    /// The provider's own wait (`Retry-After`).
    pub retry_after: Option<Duration>,
}

impl SendFailure {
    pub fn permanent(reason: impl Into<String>) -> Self {
        Self { reason: reason.into(), retryable: false, retry_after: None }
    }

    pub fn temporary(reason: impl Into<String>, retry_after: Option<Duration>) -> Self {
        Self { reason: reason.into(), retryable: true, retry_after }
    }
}

/// Everything needed to send one reply.
#[derive(Clone, Debug)]
pub struct SendContext {
    pub account: ChannelAccount,
    pub settings: AccountSettings,
    /// The customer's address on the channel, from the outbound record.
    pub recipient: Option<Identifier>,
}

/// Picks the account and reads its settings.
pub async fn prepare(
    pool: &PgPool,
    reply: &PendingReply,
    recipient: Option<&Identifier>,
) -> Result<SendContext, SendFailure> {
    let db = |e: crate::crm::CrmError| SendFailure::temporary(format!("cannot read channel accounts: {e}"), None);
    let origin = match reply.origin_account() {
        Some(id) => get_account(pool, reply.tenant_id, id).await.map_err(db)?,
        None => None,
    };
    let account = match origin.filter(|a| a.enabled && a.channel() == reply.channel) {
        Some(account) => account,
        None => {
            tenant_accounts(pool, reply.tenant_id, reply.channel).await.map_err(db)?.into_iter().next().ok_or_else(
                || SendFailure::permanent(format!("the tenant has no {} account to send from", reply.channel)),
            )?
        }
    };
    let settings = AccountSettings::parse(account.provider, &account.config)
        .map_err(|e| SendFailure::permanent(format!("account {}: {e}", account.id)))?;
    Ok(SendContext { account, settings, recipient: recipient.cloned() })
}

/// Sends `reply` once.
pub async fn send(
    http: &reqwest::Client,
    pool: &PgPool,
    context: &SendContext,
    reply: &PendingReply,
    public_url: Option<&str>,
) -> Result<Accepted, SendFailure> {
    match &context.settings {
        AccountSettings::Twilio(settings) => twilio::send(http, context, settings, reply, public_url).await,
        AccountSettings::Meta(settings) => meta::send(http, pool, context, settings, reply).await,
        AccountSettings::Slack(settings) => slack::send(http, settings, reply).await,
        other => Err(SendFailure::permanent(format!("no sender for {:?} accounts yet", provider_name(other)))),
    }
}

fn provider_name(settings: &AccountSettings) -> &'static str {
    match settings {
        AccountSettings::Twilio(_) => "twilio",
        AccountSettings::Meta(_) => "meta",
        AccountSettings::Slack(_) => "slack",
        AccountSettings::Gmail(_) => "gmail",
        AccountSettings::Webform(_) => "webform",
    }
}

/// A provider's answer.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub body: Vec<u8>,
}

/// Performs `request`. Failing to connect is retryable; so is a timeout
/// (the provider may have accepted the message, so a retry can duplicate
/// it: a customer getting a reply twice beats not getting it).
pub async fn execute(http: &reqwest::Client, request: &ProviderRequest) -> Result<Answer, SendFailure> {
    let method = reqwest::Method::from_bytes(request.method.as_bytes())
        .map_err(|e| SendFailure::permanent(format!("bad method: {e}")))?;
    let mut builder = http.request(method, &request.url).header(reqwest::header::CONTENT_TYPE, request.content_type);
    if !request.authorization.is_empty() {
        builder = builder.header(reqwest::header::AUTHORIZATION, &request.authorization);
    }
    if !request.body.is_empty() {
        builder = builder.body(request.body.clone());
    }
    let response = builder.send().await.map_err(|e| SendFailure::temporary(format!("request failed: {e}"), None))?;
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let body = response
        .bytes()
        .await
        .map_err(|e| SendFailure::temporary(format!("reading the answer failed: {e}"), None))?
        .to_vec();
    Ok(Answer { status, retry_after, body })
}
