//! The outbox relay: publishes committed outbox rows (replies written in
//! the same transaction as the turn that produced them) to their topics and
//! marks them published. It runs at start-up, whenever an actor signals a
//! commit, and on a timer, so rows left by a crash between commit and
//! publish go out too. Rows are claimed with `FOR UPDATE SKIP LOCKED`, so
//! several relays never publish the same row at once; a crash after
//! publishing but before marking re-publishes on restart (at-least-once:
//! consumers dedupe by message id).

use crate::bus::{MemoryTopic, OutboundRecord};
use crate::db::{SystemJob, begin_system_job};
use sqlx::PgPool;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};

pub type PublishFuture<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;
pub type BatchFuture<'a> = Pin<Box<dyn Future<Output = Vec<Result<(), String>>> + Send + 'a>>;

/// Where the relay publishes: Kafka, or the in-process bus.
pub trait OutboundSink: Send + Sync + 'static {
    fn publish(&self, record: OutboundRecord) -> PublishFuture<'_>;

    /// Publishes `records` in order; one result per record, in order. This
    /// default waits for each before the next; a sink that can keep many
    /// in flight without reordering them (Kafka) overrides it.
    fn publish_batch(&self, records: Vec<OutboundRecord>) -> BatchFuture<'_> {
        Box::pin(async move {
            let mut results = Vec::with_capacity(records.len());
            for record in records {
                let result = self.publish(record).await;
                let failed = result.is_err();
                results.push(result);
                if failed {
                    break;
                }
            }
            results
        })
    }
}

/// The embedded bus's outbound topics, by name.
pub struct MemoryOutbound {
    pub topics: HashMap<String, Arc<MemoryTopic<OutboundRecord>>>,
}

impl OutboundSink for MemoryOutbound {
    fn publish(&self, record: OutboundRecord) -> PublishFuture<'_> {
        Box::pin(async move {
            let topic = self.topics.get(&record.topic).ok_or_else(|| format!("unknown topic {}", record.topic))?;
            let key = record.key.clone();
            topic.publish(key.as_bytes(), |_| record).await.map_err(|e| e.to_string())
        })
    }
}

const BATCH: i64 = 256;

/// Publishes every unpublished outbox row; returns how many.
pub async fn publish_pending(pool: &PgPool, sink: &dyn OutboundSink) -> Result<usize, sqlx::Error> {
    let mut total = 0;
    loop {
        let mut tx = begin_system_job(pool, SystemJob::OutboxRelay).await?;
        let rows: Vec<(i64, String, String, serde_json::Value)> = sqlx::query_as(
            "SELECT id, topic, key, payload FROM outbox WHERE published_at IS NULL
              ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
        )
        .bind(BATCH)
        .fetch_all(&mut *tx)
        .await?;
        let fetched = rows.len();
        let records: Vec<OutboundRecord> = rows
            .into_iter()
            .map(|(id, topic, key, payload)| OutboundRecord { outbox_id: id, topic, key, payload })
            .collect();
        let ids: Vec<i64> = records.iter().map(|r| r.outbox_id).collect();
        let mut published = Vec::with_capacity(fetched);
        for (id, result) in ids.into_iter().zip(sink.publish_batch(records).await) {
            match result {
                Ok(()) => published.push(id),
                Err(error) => {
                    // Keep order: stop at the first failure and publish
                    // from there again later (rows after it that did go out
                    // go out twice; consumers dedupe by message id).
                    tracing::warn!(outbox_id = id, %error, "outbox publish failed; will retry");
                    break;
                }
            }
        }
        sqlx::query("UPDATE outbox SET published_at = now() WHERE id = ANY($1)")
            .bind(&published)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        total += published.len();
        if published.len() < fetched || fetched < BATCH as usize {
            return Ok(total);
        }
    }
}

/// Runs the relay until `shutdown` turns true (then publishes once more).
pub async fn run_relay(
    pool: PgPool,
    sink: Arc<dyn OutboundSink>,
    notify: Arc<Notify>,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        match publish_pending(&pool, sink.as_ref()).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(published = n, "outbox rows published"),
            Err(e) => tracing::warn!(error = %e, "outbox relay cannot read the outbox; will retry"),
        }
        if *shutdown.borrow() {
            return;
        }
        tokio::select! {
            () = notify.notified() => {}
            () = tokio::time::sleep(interval) => {}
            _ = shutdown.changed() => {}
        }
    }
}
