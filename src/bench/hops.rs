//! Where a reply's time goes: each measured reply's end-to-end latency
//! split into the pipeline's hops, from timestamps the pipeline leaves on
//! the way (all on this machine's wall clock, Kafka's at millisecond
//! resolution):
//! - `routed`: inbound produced → the identity router's record on
//!   `fte.tickets.incoming` (consume, identity resolution, produce);
//! - `turn`: that record → the reply built in the turn's commit
//!   (conversation consumer, router, actor, brain, commit);
//! - `relayed`: committed → the relay's record on the outbound topic;
//! - `delivered`: that record → the harness's consumer has it.
//!
//! A serial stage shows as the hop whose time grows with the load.

use super::report::{HopLatency, percentiles};
use crate::domain::TicketMessage;
use crate::kafka::envelope::{Envelope, EventType};
use chrono::{DateTime, Utc};
use dashmap::DashMap;
use hdrhistogram::Histogram;
use rdkafka::consumer::StreamConsumer;
use rdkafka::message::Message;
use std::sync::Arc;

/// When the identity router published each message of the run, by the
/// message's external id (Kafka timestamp, ms since the epoch).
pub type Routed = Arc<DashMap<String, i64>>;

/// Fills `routed` from the tickets topic until `stop`; only ids starting
/// with `prefix` (this plan's messages) are kept.
pub async fn read_tickets(consumer: StreamConsumer, routed: Routed, prefix: String, stop: Arc<tokio::sync::Notify>) {
    loop {
        let record = tokio::select! {
            r = consumer.recv() => r,
            () = stop.notified() => return,
        };
        let Ok(record) = record else { continue };
        let Some(at) = record.timestamp().to_millis() else { continue };
        let Some(ticket) = record
            .payload()
            .and_then(|p| Envelope::parse(p).ok())
            .and_then(|e| e.data_as::<TicketMessage>(EventType::Ticket).ok())
        else {
            continue;
        };
        if ticket.message.external_id.starts_with(&prefix) {
            routed.insert(ticket.message.external_id, at);
        }
    }
}

/// The timestamps one reply carried back.
#[derive(Clone, Copy, Debug)]
pub struct ReplyStamps {
    /// The reply was built in its turn's commit.
    pub committed: DateTime<Utc>,
    /// The relay's record on the outbound topic (ms since the epoch).
    pub published_ms: Option<i64>,
    /// The harness's consumer had it.
    pub arrived: DateTime<Utc>,
}

const HOPS: [&str; 4] = ["routed", "turn", "relayed", "delivered"];

/// One histogram (µs) per hop.
pub struct HopRecorder {
    hops: [Histogram<u64>; 4],
}

const MAX_US: u64 = 600_000_000;

impl HopRecorder {
    pub fn new() -> Result<Self, String> {
        let h = || Histogram::new_with_bounds(1, MAX_US, 3).map_err(|e| format!("histogram: {e}"));
        Ok(Self { hops: [h()?, h()?, h()?, h()?] })
    }

    /// Records one reply to the message sent at `sent` (routed at
    /// `routed_ms`, when the harness saw it).
    pub fn record(&mut self, sent: DateTime<Utc>, routed_ms: Option<i64>, stamps: ReplyStamps) {
        let sent_ms = sent.timestamp_micros();
        let committed = stamps.committed.timestamp_micros();
        let us = |ms: i64| ms.saturating_mul(1000);
        let routed = routed_ms.map(us);
        let published = stamps.published_ms.map(us);
        let spans = [
            routed.map(|r| r - sent_ms),
            routed.map(|r| committed - r),
            published.map(|p| p - committed),
            published.map(|p| stamps.arrived.timestamp_micros() - p),
        ];
        for (h, span) in self.hops.iter_mut().zip(spans) {
            if let Some(span) = span {
                // Clock granularity can make a hop look negative: count it
                // as the shortest time rather than dropping it.
                let _ = h.record(u64::try_from(span).unwrap_or(0).clamp(1, MAX_US));
            }
        }
    }

    pub fn summary(&self) -> Vec<HopLatency> {
        HOPS.iter()
            .zip(&self.hops)
            .filter(|(_, h)| !h.is_empty())
            .map(|(name, h)| HopLatency {
                hop: (*name).to_string(),
                replies: h.len(),
                latency_ms: percentiles(h, 1000.0),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn a_reply_splits_into_its_hops() {
        let sent = DateTime::parse_from_rfc3339("2026-12-02T10:00:00Z").unwrap().with_timezone(&Utc);
        let ms = |d: i64| (sent + Duration::milliseconds(d)).timestamp_millis();
        let mut r = HopRecorder::new().unwrap();
        r.record(
            sent,
            Some(ms(4)),
            ReplyStamps {
                committed: sent + Duration::milliseconds(14),
                published_ms: Some(ms(20)),
                arrived: sent + Duration::milliseconds(23),
            },
        );
        let hops = r.summary();
        let got: Vec<(String, f64)> = hops.iter().map(|h| (h.hop.clone(), h.latency_ms.p50.round())).collect();
        assert_eq!(
            got,
            vec![("routed".into(), 4.0), ("turn".into(), 10.0), ("relayed".into(), 6.0), ("delivered".into(), 3.0)]
        );
    }

    #[test]
    fn a_missing_routing_stamp_leaves_out_only_the_hops_it_bounds() {
        let sent = Utc::now();
        let mut r = HopRecorder::new().unwrap();
        r.record(
            sent,
            None,
            ReplyStamps { committed: sent, published_ms: Some(sent.timestamp_millis()), arrived: sent },
        );
        let names: Vec<String> = r.summary().into_iter().map(|h| h.hop).collect();
        assert_eq!(names, vec!["relayed".to_string(), "delivered".to_string()]);
    }
}
