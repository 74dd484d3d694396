//! The database outage gate the conversation routers share. A turn that
//! fails for a transient reason has the database asked; if it does not
//! answer, the gate closes, and while it is closed no router
//! dispatches a turn (each partition waits, in order), and one prober asks
//! PostgreSQL `SELECT 1` until it answers, then opens it. Without it, every
//! customer with a message in flight keeps starting actors against a pool
//! that cannot serve them, and the queue of waiters outlives the outage.

use sqlx::PgPool;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::watch;

/// How often a closed gate asks the database.
const PROBE_EVERY: Duration = Duration::from_millis(250);

#[derive(Debug)]
pub struct OutageGate {
    open: watch::Sender<bool>,
    probing: AtomicBool,
}

impl Default for OutageGate {
    fn default() -> Self {
        Self { open: watch::Sender::new(true), probing: AtomicBool::new(false) }
    }
}

impl OutageGate {
    /// Waits until the gate is open (at once when it is).
    pub async fn wait_open(&self) {
        let mut open = self.open.subscribe();
        let _ = open.wait_for(|o| *o).await;
    }

    pub fn is_open(&self) -> bool {
        *self.open.borrow()
    }

    /// A turn failed for a transient reason: asks the database (once at a
    /// time) and, if it does not answer, closes the gate until it does.
    /// Without a pool to ask, the gate stays open and the turn's own
    /// backoff paces it.
    pub fn report(self: &std::sync::Arc<Self>, pool: Option<&PgPool>) {
        let Some(pool) = pool else { return };
        if self.probing.swap(true, Ordering::AcqRel) {
            return;
        }
        let gate = std::sync::Arc::clone(self);
        let pool = pool.clone();
        tokio::spawn(async move {
            let mut closed = false;
            while !answers(&pool).await {
                if !closed {
                    closed = true;
                    gate.open.send_replace(false);
                    tracing::warn!("database unavailable: turns paused until it answers");
                }
                tokio::time::sleep(PROBE_EVERY).await;
            }
            gate.probing.store(false, Ordering::Release);
            if closed {
                gate.open.send_replace(true);
                tracing::info!("database answers again: turns resumed");
            }
        });
    }
}

async fn answers(pool: &PgPool) -> bool {
    let probe = sqlx::query("SELECT 1").execute(pool);
    matches!(tokio::time::timeout(Duration::from_secs(2), probe).await, Ok(Ok(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn without_a_pool_to_ask_the_gate_stays_open() {
        let gate = std::sync::Arc::new(OutageGate::default());
        gate.report(None);
        assert!(gate.is_open());
        tokio::time::timeout(Duration::from_millis(100), gate.wait_open()).await.unwrap();
    }
}
