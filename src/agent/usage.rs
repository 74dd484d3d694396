//! Token use and estimated cost, rolled up from `agent_turns` for one
//! tenant over a period: in total, per brain, and per conversation (the most
//! expensive first). The agent's monthly budget check reads the same table.

use crate::db::begin_tenant;
use crate::domain::TenantId;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Usage {
    pub turns: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cost_usd: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConversationUsage {
    pub conversation_id: uuid::Uuid,
    #[serde(flatten)]
    pub usage: Usage,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UsageReport {
    pub tenant_id: TenantId,
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub total: Usage,
    /// Which brain answered how many turns, with their cost.
    pub by_brain: Vec<(String, Usage)>,
    /// The most expensive conversations first (at most `top`).
    pub by_conversation: Vec<ConversationUsage>,
}

type Row = (i64, i64, i64, f64);

fn usage((turns, prompt_tokens, completion_tokens, cost_usd): Row) -> Usage {
    Usage { turns, prompt_tokens, completion_tokens, cost_usd }
}

const SUMS: &str = "count(*), COALESCE(sum(prompt_tokens), 0)::int8, COALESCE(sum(completion_tokens), 0)::int8,
                    COALESCE(sum(cost_usd), 0)::float8";

/// The tenant's usage in `[since, until)`.
pub async fn tenant_usage(
    pool: &PgPool,
    tenant: TenantId,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    top: i64,
) -> Result<UsageReport, sqlx::Error> {
    let mut tx = begin_tenant(pool, tenant).await?;
    let total: Row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {SUMS} FROM agent_turns WHERE created_at >= $1 AND created_at < $2"
    )))
    .bind(since)
    .bind(until)
    .fetch_one(&mut *tx)
    .await?;
    let by_brain: Vec<(String, i64, i64, i64, f64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT brain, {SUMS} FROM agent_turns WHERE created_at >= $1 AND created_at < $2
          GROUP BY brain ORDER BY brain"
    )))
    .bind(since)
    .bind(until)
    .fetch_all(&mut *tx)
    .await?;
    let by_conversation: Vec<(uuid::Uuid, i64, i64, i64, f64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT conversation_id, {SUMS} FROM agent_turns WHERE created_at >= $1 AND created_at < $2
          GROUP BY conversation_id ORDER BY 5 DESC, 3 DESC, conversation_id LIMIT $3"
    )))
    .bind(since)
    .bind(until)
    .bind(top.max(0))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(UsageReport {
        tenant_id: tenant,
        since,
        until,
        total: usage(total),
        by_brain: by_brain.into_iter().map(|(b, t, p, c, u)| (b, usage((t, p, c, u)))).collect(),
        by_conversation: by_conversation
            .into_iter()
            .map(|(id, t, p, c, u)| ConversationUsage { conversation_id: id, usage: usage((t, p, c, u)) })
            .collect(),
    })
}
