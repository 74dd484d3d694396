//! The retention job: deletes, for every tenant, the customer content older
//! than the tenant's `retention_days`, by calling the database's
//! `app_retention_purge` (`migrations/*_retention.sql` says what goes and
//! what stays, and why) in batches until a batch deletes nothing. It runs
//! wherever the conversation runtime runs (`serve`, `worker`), every
//! `FTE_RETENTION_INTERVAL_SECS`, one run at a time across all processes.
//! Each run that deleted anything is counted in
//! `fte_retention_purged_rows_total` (by table) and recorded in the audit
//! log of every tenant it deleted from (`retention.purge`: counts per
//! table, no personal data). Database outages are waited out; a failed run
//! is logged and tried again at the next interval; the job never stops the
//! process.
//!
//! One run at a time: a session-level advisory lock, taken with
//! `pg_try_advisory_lock` on a connection of its own, released and closed
//! when the run ends. A run is many transactions (one per batch, so none holds
//! locks or grows for long), which a transaction-level lock would not
//! cover: two processes would interleave their batches and both report
//! purges. Closing the connection, instead of handing it back to the pool,
//! releases the lock whatever ended the run (an error, a lost connection,
//! shutdown), and no pooled connection ever carries it. A process that
//! finds the lock taken skips its run: another one is purging.

use crate::db::{Patience, begin_tenant, is_transient};
use crate::domain::TenantId;
use crate::metrics::Metrics;
use sqlx::{PgConnection, PgPool};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use uuid::Uuid;

/// The advisory lock a run holds (`pg_try_advisory_lock`): the bytes of
/// "fte.retn".
pub const LOCK_KEY: i64 = 0x6674_652e_7265_746e;

/// Rows per table per call of `app_retention_purge`.
pub const BATCH: i32 = 1000;

/// The audit log's actor for what the job does.
pub const ACTOR: &str = "system:retention";

/// Rows deleted by a run, per tenant and table.
pub type Purged = BTreeMap<TenantId, BTreeMap<String, u64>>;

/// What a run did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunOutcome {
    /// Another process holds the lock (it is purging); nothing was done.
    Busy,
    /// This process purged: the rows deleted (empty when nothing was due).
    Done(Purged),
}

/// The job: where it purges and counts, and how much per call.
#[derive(Clone, Debug)]
pub struct Retention {
    pub pool: PgPool,
    pub metrics: Arc<Metrics>,
    /// Rows per table per call of `app_retention_purge` (at least 1).
    pub batch: i32,
}

impl Retention {
    /// One run: takes the lock (or answers [`RunOutcome::Busy`]), purges in
    /// batches until one deletes nothing (or `stop` turns true), counts
    /// what went and audits it. Rows deleted before an error are counted
    /// and audited too; the error is returned after.
    pub async fn run_once(&self, stop: &watch::Receiver<bool>) -> Result<RunOutcome, sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        let locked: bool =
            sqlx::query_scalar("SELECT pg_try_advisory_lock($1)").bind(LOCK_KEY).fetch_one(&mut *conn).await?;
        if !locked {
            return Ok(RunOutcome::Busy);
        }
        conn.close_on_drop();
        let mut purged = Purged::new();
        let mut ended = Ok(());
        while !*stop.borrow() {
            match purge_batch(&mut conn, self.batch).await {
                Ok(rows) if rows.is_empty() => break,
                Ok(rows) => {
                    for (tenant, table, deleted) in rows {
                        let deleted = u64::try_from(deleted).unwrap_or_default();
                        self.metrics.purged(&table, deleted);
                        *purged.entry(TenantId::from_uuid(tenant)).or_default().entry(table).or_default() += deleted;
                    }
                }
                Err(e) => {
                    ended = Err(e);
                    break;
                }
            }
        }
        // Released at once when the connection still answers; in any case
        // the connection is closed, and the lock goes with it.
        if let Err(e) = sqlx::query("SELECT pg_advisory_unlock($1)").bind(LOCK_KEY).execute(&mut *conn).await {
            tracing::debug!(error = %e, "retention lock left to the connection's close");
        }
        drop(conn);
        self.audit(&purged).await;
        ended.map(|()| RunOutcome::Done(purged))
    }

    /// One `retention.purge` entry in the audit log of each tenant purged,
    /// waiting out a short outage; an entry that cannot be written is
    /// logged with its counts instead.
    async fn audit(&self, purged: &Purged) {
        for (tenant, tables) in purged {
            let mut patience = Patience::new(Duration::from_millis(250));
            let mut attempts = 0;
            loop {
                attempts += 1;
                match record(&self.pool, *tenant, tables).await {
                    Ok(()) => break,
                    Err(e) if is_transient(&e) && attempts < 10 => {
                        tracing::warn!(tenant_id = %tenant, error = %e, retry_in_ms = patience.next().as_millis() as u64, "cannot audit a retention purge yet; retrying");
                        patience.wait().await;
                    }
                    Err(e) => {
                        tracing::error!(tenant_id = %tenant, error = %e, deleted = ?tables, "retention purge not audited");
                        break;
                    }
                }
            }
        }
    }
}

/// One call of `app_retention_purge` in a transaction of its own, as the
/// retention system job: (tenant, table, rows deleted).
async fn purge_batch(conn: &mut PgConnection, batch: i32) -> Result<Vec<(Uuid, String, i64)>, sqlx::Error> {
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    crate::db::mark_system_job(&mut tx, crate::db::SystemJob::Retention).await?;
    let rows: Vec<(Uuid, String, i64)> =
        sqlx::query_as("SELECT tenant_id, table_name, deleted FROM app_retention_purge($1)")
            .bind(batch.max(1))
            .fetch_all(&mut *tx)
            .await?;
    tx.commit().await?;
    Ok(rows)
}

/// Writes the tenant's audit entry for a run: the tenant's retention and
/// the rows deleted per table. A tenant deleted since gets none.
async fn record(pool: &PgPool, tenant: TenantId, tables: &BTreeMap<String, u64>) -> Result<(), sqlx::Error> {
    let mut tx = begin_tenant(pool, tenant).await?;
    let days: Option<i32> = sqlx::query_scalar("SELECT retention_days FROM tenants WHERE id = $1")
        .bind(tenant)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(days) = days else {
        return tx.commit().await;
    };
    sqlx::query(
        "INSERT INTO audit_log (tenant_id, actor, action, target_type, target_id, after)
         VALUES ($1, $2, 'retention.purge', 'tenant', $3, $4)",
    )
    .bind(tenant)
    .bind(ACTOR)
    .bind(tenant.to_string())
    .bind(serde_json::json!({ "retention_days": days, "deleted": tables }))
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// Runs the job until `shutdown` turns true: a first run a minute after
/// start (or after `every`, if shorter), then one every `every`.
pub async fn run(job: Retention, every: Duration, mut shutdown: watch::Receiver<bool>) {
    let mut wait = every.min(Duration::from_secs(60));
    loop {
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return,
        }
        wait = every;
        let mut patience = Patience::new(Duration::from_secs(1));
        loop {
            match job.run_once(&shutdown).await {
                Ok(RunOutcome::Busy) => {
                    tracing::debug!("retention run skipped: another process is purging");
                    break;
                }
                Ok(RunOutcome::Done(purged)) => {
                    log_run(&purged);
                    break;
                }
                Err(e) if is_transient(&e) && !*shutdown.borrow() => {
                    tracing::warn!(error = %e, retry_in_ms = patience.next().as_millis() as u64, "retention run interrupted by the database; retrying");
                    tokio::select! {
                        () = patience.wait() => {}
                        _ = shutdown.changed() => return,
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, next_run_in_secs = every.as_secs(), "retention run failed");
                    break;
                }
            }
        }
    }
}

fn log_run(purged: &Purged) {
    for (tenant, tables) in purged {
        let rows: u64 = tables.values().sum();
        tracing::info!(tenant_id = %tenant, rows, deleted = ?tables, "retention purged rows past the tenant's retention");
    }
}
