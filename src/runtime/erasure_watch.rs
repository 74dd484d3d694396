//! The erasure watch: every few seconds, finds customers erased (by any
//! process: the admin API runs apart from the workers) and passivates
//! their actors resident here, so no actor keeps an erased person's state
//! in memory. An actor that was mid-turn finds its conversation gone when
//! it commits (a version conflict), re-reads, and so never writes the
//! erased state back.

use crate::actors::SupervisorMessage;
use crate::crm::erased_since;
use chrono::{DateTime, Utc};
use ractor::{ActorRef, RpcReplyPort};
use sqlx::PgPool;
use std::time::Duration;
use tokio::sync::watch;

/// How often to look.
const EVERY: Duration = Duration::from_secs(3);
/// Erasures are looked for this far behind the latest seen, so one whose
/// transaction began earlier but committed later is not missed
/// (passivating twice is harmless).
const LOOKBACK: chrono::Duration = chrono::Duration::seconds(60);

pub async fn run(pool: PgPool, supervisor: ActorRef<SupervisorMessage>, mut shutdown: watch::Receiver<bool>) {
    let mut since: DateTime<Utc> = Utc::now() - LOOKBACK;
    loop {
        tokio::select! {
            () = tokio::time::sleep(EVERY) => {}
            _ = shutdown.changed() => return,
        }
        let erased = match erased_since(&pool, since).await {
            Ok(erased) => erased,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read erasures; retrying");
                continue;
            }
        };
        for (customer, at) in erased {
            since = since.max(at - LOOKBACK);
            let (tx, rx) = tokio::sync::oneshot::channel();
            if supervisor.cast(SupervisorMessage::Passivate(customer, RpcReplyPort::from(tx))).is_err() {
                return;
            }
            if rx.await.unwrap_or(false) {
                tracing::info!(customer_id = %customer, "erased customer's actor stopped");
            }
        }
    }
}
