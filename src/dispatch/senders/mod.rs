//! The channel side of a delivery: which account a reply goes out on (the
//! one the customer wrote to, else the tenant's first on that channel),
//! the request its provider needs, and what the answer means. One file per
//! provider; this one holds the shared HTTP step, so every provider's
//! answer is read the same way (status, `Retry-After`, body).

pub mod gmail;
mod meta;
mod slack;
mod twilio;
mod webform;

use super::store::PendingReply;
use crate::channels::settings::AccountSettings;
use crate::channels::{DeliveryStatus, ProviderRequest};
use crate::crm::{ChannelAccount, get_account, tenant_accounts};
use crate::domain::Identifier;
use crate::provider_http::Answer;
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
    gmail: &crate::gmail::GmailClient,
    pool: &PgPool,
    context: &SendContext,
    reply: &PendingReply,
    public_url: Option<&str>,
) -> Result<Accepted, SendFailure> {
    match &context.settings {
        AccountSettings::Twilio(settings) => twilio::send(http, context, settings, reply, public_url).await,
        AccountSettings::Meta(settings) => meta::send(http, pool, context, settings, reply).await,
        AccountSettings::Slack(settings) => slack::send(http, settings, reply).await,
        AccountSettings::Gmail(settings) => gmail::send(gmail, context, settings, reply).await,
        AccountSettings::Webform(settings) => webform::send(gmail, pool, context, settings, reply).await,
    }
}

/// Performs a provider call for a send: a failure to get an answer
/// (connect error, timeout) is retryable; a timeout may mean the provider
/// accepted the message, so a retry can duplicate it — a customer getting a
/// reply twice beats not getting it.
pub async fn execute(http: &reqwest::Client, request: &ProviderRequest) -> Result<Answer, SendFailure> {
    crate::provider_http::call(http, request).await.map_err(|e| SendFailure::temporary(e.to_string(), None))
}
