//! The channel accounts as webhook ingress reads them: every enabled
//! account held in memory and reloaded from PostgreSQL in the background,
//! so a signed webhook is verified and taken in while the database is away
//! (in Kafka mode it then only needs the broker).
//!
//! Staleness is bounded by the reload interval while the database answers:
//! an account added elsewhere (`fte channel add`) is found at once (a miss
//! reads the database, and so do the per-provider lists), a changed or
//! disabled one is seen at the next reload. While the database does not answer, the last loaded accounts
//! keep being served, and an unknown account is refused with 503 (it
//! cannot be told from one just added).

use super::CrmError;
use super::channel_accounts::{ChannelAccount, all_accounts, provider_accounts, resolve_account};
use crate::domain::Provider;
use sqlx::PgPool;
use std::sync::RwLock;
use std::time::Duration;
use tokio::sync::watch;

pub struct AccountCache {
    pool: PgPool,
    /// Enabled accounts, oldest first; `None` until the first load.
    loaded: RwLock<Option<Vec<ChannelAccount>>>,
}

impl AccountCache {
    pub fn new(pool: PgPool) -> Self {
        Self { pool, loaded: RwLock::new(None) }
    }

    /// Whether the accounts have been loaded at least once.
    pub fn is_loaded(&self) -> bool {
        self.loaded.read().map(|l| l.is_some()).unwrap_or(false)
    }

    fn cached<T>(&self, read: impl FnOnce(&[ChannelAccount]) -> T) -> Option<T> {
        self.loaded.read().ok()?.as_deref().map(read)
    }

    /// The enabled account `address` at `provider`, whichever tenant owns it.
    pub async fn resolve(&self, provider: Provider, address: &str) -> Result<Option<ChannelAccount>, CrmError> {
        let hit = self.cached(|all| all.iter().find(|a| a.provider == provider && a.address == address).cloned());
        if let Some(Some(account)) = hit {
            return Ok(Some(account));
        }
        // Not loaded yet, or added since the last load.
        let found = resolve_account(&self.pool, provider, address).await?;
        if let (Some(account), Ok(mut loaded)) = (&found, self.loaded.write())
            && let Some(all) = loaded.as_mut()
            && !all.iter().any(|a| a.id == account.id)
        {
            all.push(account.clone());
        }
        Ok(found)
    }

    /// Every enabled account at `provider`, oldest first: read from the
    /// database (these lists serve rare requests, like a provider checking
    /// a newly configured endpoint, which must see an account added a
    /// moment ago), or, while it does not answer, the ones loaded before.
    pub async fn provider(&self, provider: Provider) -> Result<Vec<ChannelAccount>, CrmError> {
        match provider_accounts(&self.pool, provider).await {
            Ok(accounts) => Ok(accounts),
            Err(e) => match self.cached(|all| all.iter().filter(|a| a.provider == provider).cloned().collect()) {
                Some(accounts) => {
                    tracing::warn!(%provider, error = %e, "cannot read channel accounts; using the ones loaded before");
                    Ok(accounts)
                }
                None => Err(e),
            },
        }
    }

    /// Reads every enabled account again; returns how many there are.
    pub async fn reload(&self) -> Result<usize, CrmError> {
        let all = all_accounts(&self.pool).await?;
        let count = all.len();
        if let Ok(mut loaded) = self.loaded.write() {
            *loaded = Some(all);
        }
        Ok(count)
    }

    /// Reloads every `every` until `stop` turns true; a failed reload keeps
    /// the accounts loaded before.
    pub async fn run_reloads(self: std::sync::Arc<Self>, every: Duration, mut stop: watch::Receiver<bool>) {
        loop {
            match self.reload().await {
                Ok(count) => tracing::debug!(accounts = count, "channel accounts reloaded"),
                Err(e) => tracing::warn!(error = %e, "cannot reload channel accounts; serving the ones loaded before"),
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    }
}
