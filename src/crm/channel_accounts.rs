//! Channel accounts: which tenant owns each provider account (a Twilio
//! number, a Meta phone_number_id, a Slack team, a Gmail mailbox, a web-form
//! widget key) and its non-secret settings. Webhook ingress resolves the
//! tenant from the account a request is addressed to (a system lookup, the
//! only cross-tenant read it may do); everything after that is tenant-scoped.
//! A request for an unknown or disabled account finds nothing: it is never
//! given a default tenant.

use super::CrmError;
use crate::db::{SystemJob, begin_system_job, begin_tenant};
use crate::domain::Provider;
use crate::domain::{Channel, TenantId};
use sqlx::PgPool;
use uuid::Uuid;

#[derive(Clone, Debug, PartialEq)]
pub struct ChannelAccount {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub provider: Provider,
    pub address: String,
    /// Provider settings; secrets appear only as names of environment
    /// variables (`…_env`).
    pub config: serde_json::Value,
    pub enabled: bool,
}

impl ChannelAccount {
    pub fn channel(&self) -> Channel {
        self.provider.channel()
    }
}

type Row = (Uuid, Uuid, String, String, serde_json::Value, bool);

fn from_row((id, tenant, provider, address, config, enabled): Row) -> Result<ChannelAccount, CrmError> {
    let provider = provider.parse::<Provider>().map_err(|e| CrmError::InvalidTenant(e.to_string()))?;
    Ok(ChannelAccount { id, tenant_id: TenantId::from_uuid(tenant), provider, address, config, enabled })
}

/// The enabled account `address` at `provider`, whichever tenant owns it.
pub async fn resolve_account(
    pool: &PgPool,
    provider: Provider,
    address: &str,
) -> Result<Option<ChannelAccount>, CrmError> {
    let mut tx = begin_system_job(pool, SystemJob::ChannelRouting).await?;
    let row: Option<Row> = sqlx::query_as(
        "SELECT id, tenant_id, provider, address, config, enabled FROM channel_accounts WHERE provider = $1 AND address = $2 AND enabled",
    )
    .bind(provider.as_str())
    .bind(address)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    row.map(from_row).transpose()
}

/// Every enabled account at `provider` (for the few provider requests
/// that name no account: Meta's subscription check, Slack's URL
/// verification).
pub async fn provider_accounts(pool: &PgPool, provider: Provider) -> Result<Vec<ChannelAccount>, CrmError> {
    let mut tx = begin_system_job(pool, SystemJob::ChannelRouting).await?;
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, tenant_id, provider, address, config, enabled FROM channel_accounts
          WHERE provider = $1 AND enabled ORDER BY created_at, id",
    )
    .bind(provider.as_str())
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    rows.into_iter().map(from_row).collect()
}

/// Every enabled account of every tenant, oldest first (what webhook
/// ingress keeps in memory).
pub async fn all_accounts(pool: &PgPool) -> Result<Vec<ChannelAccount>, CrmError> {
    let mut tx = begin_system_job(pool, SystemJob::ChannelRouting).await?;
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, tenant_id, provider, address, config, enabled FROM channel_accounts
          WHERE enabled ORDER BY created_at, id",
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    rows.into_iter().map(from_row).collect()
}

/// One of `tenant`'s accounts by id (enabled or not).
pub async fn get_account(pool: &PgPool, tenant: TenantId, id: Uuid) -> Result<Option<ChannelAccount>, CrmError> {
    let mut tx = begin_tenant(pool, tenant).await?;
    let row: Option<Row> =
        sqlx::query_as("SELECT id, tenant_id, provider, address, config, enabled FROM channel_accounts WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    tx.commit().await?;
    row.map(from_row).transpose()
}

/// `tenant`'s enabled accounts on `channel`, oldest first (the first is
/// the one a reply goes out on when the customer's message did not come
/// through an account).
pub async fn tenant_accounts(
    pool: &PgPool,
    tenant: TenantId,
    channel: Channel,
) -> Result<Vec<ChannelAccount>, CrmError> {
    let mut tx = begin_tenant(pool, tenant).await?;
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, tenant_id, provider, address, config, enabled FROM channel_accounts WHERE channel = $1 AND enabled ORDER BY created_at, id",
    )
    .bind(channel.as_str())
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    rows.into_iter().map(from_row).collect()
}

/// Adds an account to `tenant`, or replaces the settings of the one it
/// already has at that address. An address owned by another tenant is an
/// error, never a takeover.
pub async fn upsert_account(
    pool: &PgPool,
    tenant: TenantId,
    provider: Provider,
    address: &str,
    config: &serde_json::Value,
) -> Result<ChannelAccount, CrmError> {
    if let Some(existing) = resolve_account(pool, provider, address).await?
        && existing.tenant_id != tenant
    {
        return Err(CrmError::InvalidTenant(format!("{provider} account {address:?} belongs to another tenant")));
    }
    let mut tx = begin_tenant(pool, tenant).await?;
    let row: Option<Row> = sqlx::query_as(
        "INSERT INTO channel_accounts (id, tenant_id, provider, channel, address, config)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (provider, address) DO UPDATE
            SET config = EXCLUDED.config, enabled = true, updated_at = now()
          WHERE channel_accounts.tenant_id = EXCLUDED.tenant_id
         RETURNING id, tenant_id, provider, address, config, enabled",
    )
    .bind(Uuid::now_v7())
    .bind(tenant.as_uuid())
    .bind(provider.as_str())
    .bind(provider.channel().as_str())
    .bind(address)
    .bind(config)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    let row = row
        .ok_or_else(|| CrmError::InvalidTenant(format!("{provider} account {address:?} belongs to another tenant")))?;
    from_row(row)
}
