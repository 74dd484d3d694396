//! Holds on replies: while a dispatcher delivers a reply it holds it, so no
//! other dispatcher (in this process or another) sends it at the same time.
//! A hold is a session-level advisory lock taken on one connection of this
//! process's own, kept out of the pool: a process that dies lets go of
//! every hold at once (its connection closes and PostgreSQL releases the
//! locks), and holding costs no pooled connection while a send waits on a
//! provider. Advisory locks are re-entrant within a session, so the holds
//! of this process are also kept in a set: a second task of the process
//! asking for a held reply is refused like another process would be.
//!
//! If the connection breaks (a database restart), every hold of the
//! process is gone with it; the next request opens a new connection. A
//! send that was under way is then unprotected until it ends, which the
//! attempt mark covers: whoever delivers the reply next asks the provider
//! first.

use sqlx::{Connection, PgConnection, PgPool};
use std::collections::HashSet;
use tokio::sync::Mutex;
use uuid::Uuid;

/// The holds of one dispatcher process.
pub struct Holds {
    pool: PgPool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    connection: Option<PgConnection>,
    held: HashSet<Uuid>,
}

/// A reply held by this process; give it back with [`Holds::release`].
#[derive(Debug)]
#[must_use = "a hold is kept until released"]
pub struct Hold {
    id: Uuid,
}

/// The advisory-lock key of a reply: its id folded to 64 bits.
fn key(id: Uuid) -> i64 {
    let (high, low) = id.as_u64_pair();
    (high ^ low) as i64
}

impl Holds {
    pub fn new(pool: PgPool) -> Self {
        Self { pool, state: Mutex::default() }
    }

    /// Holds reply `id`; `None` if someone (here or elsewhere) holds it.
    pub async fn try_hold(&self, id: Uuid) -> Result<Option<Hold>, sqlx::Error> {
        let mut state = self.state.lock().await;
        if state.held.contains(&id) {
            return Ok(None);
        }
        let connection = self.connection(&mut state).await?;
        let taken =
            sqlx::query_scalar::<_, bool>("SELECT pg_try_advisory_lock($1)").bind(key(id)).fetch_one(connection).await;
        match taken {
            Ok(true) => {
                state.held.insert(id);
                Ok(Some(Hold { id }))
            }
            Ok(false) => Ok(None),
            Err(e) => {
                Self::lost(&mut state);
                Err(e)
            }
        }
    }

    /// Lets go of a hold. A connection that fails here has lost every hold
    /// already, so there is nothing left to let go of.
    pub async fn release(&self, hold: Hold) {
        let mut state = self.state.lock().await;
        if !state.held.remove(&hold.id) {
            return;
        }
        let Some(connection) = state.connection.as_mut() else { return };
        if let Err(e) = sqlx::query("SELECT pg_advisory_unlock($1)").bind(key(hold.id)).execute(connection).await {
            tracing::warn!(message_id = %hold.id, error = %e, "the holds' connection broke; every hold is gone");
            Self::lost(&mut state);
        }
    }

    async fn connection<'a>(&self, state: &'a mut State) -> Result<&'a mut PgConnection, sqlx::Error> {
        if state.connection.is_none() {
            // A connection of the pool's own settings, taken out of it.
            let connection = self.pool.acquire().await?.detach();
            state.connection = Some(connection);
        }
        state.connection.as_mut().ok_or(sqlx::Error::PoolClosed)
    }

    /// The connection broke: its locks went with it.
    fn lost(state: &mut State) {
        if let Some(connection) = state.connection.take() {
            drop(connection.close());
        }
        state.held.clear();
    }
}
