//! The inactivity sweeper: finds conversations whose customer has not
//! written for the configured time while the agent waits on them, and sends
//! each actor an expiry for the version it saw. The actor applies it under
//! its tenant, and refuses it if the conversation moved on since (the
//! customer wrote in the meantime).

use crate::actors::{ConversationActorMessage, SupervisorMessage};
use crate::db::{SystemJob, begin_system_job};
use crate::domain::{CustomerId, TenantId};
use ractor::{ActorRef, RpcReplyPort};
use sqlx::PgPool;
use std::time::Duration;
use uuid::Uuid;

/// One sweep; returns how many conversations timed out.
pub async fn sweep(
    pool: &PgPool,
    supervisor: &ActorRef<SupervisorMessage>,
    inactivity: Duration,
) -> Result<usize, sqlx::Error> {
    let mut tx = begin_system_job(pool, SystemJob::InactivitySweeper).await?;
    let quiet: Vec<(Uuid, Uuid, i64)> = sqlx::query_as(
        "SELECT tenant_id, customer_id, state_version FROM conversations
          WHERE state = 'awaiting_customer' AND last_message_at < now() - make_interval(secs => $1)
          ORDER BY last_message_at LIMIT 1000",
    )
    .bind(inactivity.as_secs_f64())
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let mut resolved = 0;
    for (tenant, customer, version) in quiet {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let route = SupervisorMessage::Route {
            tenant: TenantId::from_uuid(tenant),
            customer: CustomerId::from_uuid(customer),
            message: ConversationActorMessage::Expire {
                version: u64::try_from(version).unwrap_or_default(),
                reply: RpcReplyPort::from(tx),
            },
        };
        if supervisor.cast(route).is_err() {
            break;
        }
        match rx.await {
            Ok(Ok(_)) => resolved += 1,
            Ok(Err(refused)) => tracing::debug!(customer_id = %customer, %refused, "inactivity timeout refused"),
            Err(_) => tracing::debug!(customer_id = %customer, "actor stopped before applying the timeout"),
        }
    }
    Ok(resolved)
}

/// Sweeps every `every` until `shutdown` turns true.
pub async fn run(
    pool: PgPool,
    supervisor: ActorRef<SupervisorMessage>,
    inactivity: Duration,
    every: Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
        match sweep(&pool, &supervisor, inactivity).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(resolved = n, "inactive conversations resolved"),
            Err(e) => tracing::warn!(error = %e, "inactivity sweep failed"),
        }
    }
}
