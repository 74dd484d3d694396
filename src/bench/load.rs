//! The load driver: customers write through Kafka exactly as the `api`
//! role would (CloudEvents on the channels' inbound topics, keyed by the
//! sender), and the replies are read back from the outbound topics with a
//! consumer group of the driver's own. Each reply is matched to its
//! customer by recipient; a customer's messages are answered in order, so
//! the oldest outstanding one is the one answered. End-to-end latency runs
//! from just before the produce call to the reply's arrival, recorded in
//! HDR histograms overall and per second of the run.
//!
//! Closed loop: `in_flight` customers at a time, each writing its next
//! message once the previous one is answered (a conversation's natural
//! pace), which finds the maximum rate. Open loop: messages go out at a
//! fixed rate whatever the replies do, which measures latency at a load.

use super::hops::{HopRecorder, ReplyStamps, Routed, read_tickets};
use super::report::{Percentiles, ScenarioResult, TimelinePoint};
use super::webhook::{post_twilio, routing_id, ticket_prefix};
use crate::domain::{Channel, EmailAddress, Identifier, InboundMessage, OutboundMessage, PhoneNumber, TenantId};
use crate::kafka::Topics;
use crate::kafka::envelope::{Envelope, EventType};
use crate::kafka::{KafkaConnection, KafkaProducer};
use hdrhistogram::Histogram;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Kafka(#[from] crate::kafka::KafkaError),
    #[error("cannot read replies: {0}")]
    Consumer(rdkafka::error::KafkaError),
    #[error("bad plan: {0}")]
    Plan(String),
}

/// Where the deployment under test takes messages.
#[derive(Clone)]
pub struct Target {
    pub kafka: KafkaConnection,
    /// One producer for the whole run: a new one spends its first second
    /// fetching metadata and a producer id, which every plan's first
    /// messages would count as latency.
    pub producer: KafkaProducer,
    pub topics: Topics,
    pub tenant: TenantId,
    /// Where signed Twilio webhooks go, for plans sent `via_http`.
    pub twilio: Option<super::deployment::TwilioIngress>,
}

#[derive(Clone, Copy, Debug)]
pub enum Pace {
    Closed { in_flight: usize },
    Open { per_sec: f64 },
}

/// One scenario's load.
#[derive(Clone, Debug)]
pub struct Plan {
    pub name: String,
    pub customers: usize,
    /// Messages per customer.
    pub messages: usize,
    pub pace: Pace,
    /// Each customer alternates between email and WhatsApp (one person,
    /// both identifiers on every message) instead of email only.
    pub cross_channel: bool,
    /// A message with no reply by then counts as an error.
    pub reply_timeout: Duration,
    /// What the customers ask (cycled).
    pub questions: Vec<String>,
    /// The index of each customer's first message in this plan (a later
    /// plan for the same customers continues their conversations).
    pub first_message: usize,
    /// Every message is a WhatsApp message posted to the `api` process as
    /// Twilio's signed webhook, instead of a record on the inbound topic.
    pub via_http: bool,
}

/// One simulated customer: their addresses.
struct Customer {
    email: EmailAddress,
    phone: PhoneNumber,
}

impl Plan {
    fn customer(&self, run: &str, i: usize) -> Result<Customer, LoadError> {
        let email = EmailAddress::parse(&format!("{}-{run}-c{i}@bench.example", self.name))
            .map_err(|e| LoadError::Plan(e.to_string()))?;
        // Unique per customer of this plan and run: the area code comes
        // from both (another plan's customers must never share a number,
        // or identity resolution would make them one person).
        let area = 200 + crate::bus::partition_of(format!("{}-{run}", self.name).as_bytes(), 800);
        let phone = PhoneNumber::parse(&format!("+1{area}{:07}", i % 10_000_000))
            .map_err(|e| LoadError::Plan(e.to_string()))?;
        Ok(Customer { email, phone })
    }

    fn message(&self, tenant: TenantId, run: &str, c: &Customer, i: usize, m: usize) -> InboundMessage {
        let m = m + self.first_message;
        let whatsapp = self.via_http || (self.cross_channel && m % 2 == 1);
        let (channel, sender, other) = if whatsapp {
            (Channel::Whatsapp, Identifier::Whatsapp(c.phone.clone()), Identifier::Email(c.email.clone()))
        } else {
            (Channel::Email, Identifier::Email(c.email.clone()), Identifier::Phone(c.phone.clone()))
        };
        let question = self.questions.get((i + m) % self.questions.len().max(1)).cloned().unwrap_or_default();
        InboundMessage {
            tenant_id: tenant,
            channel,
            external_id: format!("bench-{}-{run}-c{i}-m{m}", self.name),
            sender,
            identifiers: if self.cross_channel { vec![other] } else { vec![] },
            display_name: None,
            subject: Some("Question".into()),
            body: question,
            received_at: chrono::Utc::now(),
            metadata: serde_json::Value::Null,
        }
    }
}

/// Latencies in microseconds, overall and per second of the run.
pub(super) struct Recorder {
    started: Instant,
    pub(super) all: Histogram<u64>,
    per_second: Vec<(u64, Histogram<u64>)>,
    pub(super) errors: u64,
}

/// Latency histogram: 1 µs to 10 min, 3 significant digits.
pub(super) fn histogram() -> Result<Histogram<u64>, LoadError> {
    Histogram::new_with_bounds(1, MAX_US, 3).map_err(|e| LoadError::Plan(format!("histogram: {e}")))
}

const MAX_US: u64 = 600_000_000;

/// `took` in the histograms' unit (µs), within their bounds.
pub(super) fn micros(took: Duration) -> u64 {
    u64::try_from(took.as_micros()).unwrap_or(u64::MAX).clamp(1, MAX_US)
}

impl Recorder {
    pub(super) fn new() -> Result<Self, LoadError> {
        Ok(Self { started: Instant::now(), all: histogram()?, per_second: Vec::new(), errors: 0 })
    }

    pub(super) fn reply(&mut self, took: Duration) {
        let us = micros(took);
        let _ = self.all.record(us);
        let second = usize::try_from(self.started.elapsed().as_secs()).unwrap_or(usize::MAX);
        while self.per_second.len() <= second {
            match histogram() {
                Ok(h) => self.per_second.push((0, h)),
                Err(_) => return,
            }
        }
        let (n, h) = &mut self.per_second[second];
        *n += 1;
        let _ = h.record(us);
    }

    /// One point per second of the run.
    pub(super) fn timeline(&self) -> Vec<TimelinePoint> {
        self.per_second
            .iter()
            .enumerate()
            .map(|(t, (n, h))| TimelinePoint {
                t: t as f64,
                replies: *n,
                p99_ms: (!h.is_empty()).then(|| h.value_at_quantile(0.99) as f64 / 1000.0),
            })
            .collect()
    }
}

/// Percentiles (ms) of a histogram of microseconds.
pub fn percentiles_us(h: &Histogram<u64>) -> Option<Percentiles> {
    if h.is_empty() {
        return None;
    }
    let ms = |us: u64| us as f64 / 1000.0;
    Some(Percentiles {
        p50: ms(h.value_at_quantile(0.50)),
        p90: ms(h.value_at_quantile(0.90)),
        p99: ms(h.value_at_quantile(0.99)),
        p999: ms(h.value_at_quantile(0.999)),
        max: ms(h.max()),
        mean: h.mean() / 1000.0,
    })
}

/// Log-spaced buckets (upper bound ms, count) of a histogram of µs.
pub(crate) fn buckets(h: &Histogram<u64>) -> Vec<(f64, u64)> {
    if h.is_empty() {
        return Vec::new();
    }
    h.iter_log(1000, 1.5).map(|v| (v.value_iterated_to() as f64 / 1000.0, v.count_since_last_iteration())).collect()
}

/// Outstanding messages by customer: who is told when the reply comes.
type Waiting = Arc<Mutex<HashMap<usize, VecDeque<oneshot::Sender<(Instant, ReplyStamps)>>>>>;

/// A consumer of the harness's own group, reading `topics` from the start.
fn own_consumer(target: &Target, topics: &[String]) -> Result<StreamConsumer, LoadError> {
    let consumer: StreamConsumer = target
        .kafka
        .client_config()
        .set("group.id", format!("fte-bench-{}", uuid::Uuid::new_v4().simple()))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("fetch.wait.max.ms", "10")
        .create()
        .map_err(LoadError::Consumer)?;
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    consumer.subscribe(&names).map_err(LoadError::Consumer)?;
    Ok(consumer)
}

/// Reads replies committed since `since` and wakes the customers they
/// answer, until `stop` (older ones answered an earlier plan's messages).
async fn read_replies(
    consumer: StreamConsumer,
    lookup: HashMap<String, usize>,
    waiting: Waiting,
    since: chrono::DateTime<chrono::Utc>,
    stop: Arc<tokio::sync::Notify>,
) {
    loop {
        let record = tokio::select! {
            r = consumer.recv() => r,
            () = stop.notified() => return,
        };
        let Ok(record) = record else { continue };
        let arrived = Instant::now();
        let arrived_wall = chrono::Utc::now();
        let Some(out) = record
            .payload()
            .and_then(|p| Envelope::parse(p).ok())
            .and_then(|e| e.data_as::<OutboundMessage>(EventType::Outbound).ok())
        else {
            continue;
        };
        if out.created_at < since {
            continue;
        }
        let Some(customer) = out.recipient.as_ref().and_then(|r| lookup.get(r.value()).copied()) else { continue };
        let next = waiting.lock().ok().and_then(|mut w| w.get_mut(&customer).and_then(VecDeque::pop_front));
        if let Some(tx) = next {
            let stamps = ReplyStamps {
                committed: out.created_at,
                published_ms: record.timestamp().to_millis(),
                arrived: arrived_wall,
            };
            let _ = tx.send((arrived, stamps));
        }
    }
}

/// Runs `plan` against `target`; `run` keeps this run's customers apart
/// from earlier ones on the same topics.
pub async fn drive(target: &Target, plan: &Plan, run: &str, description: String) -> Result<ScenarioResult, LoadError> {
    if plan.customers == 0 || plan.messages == 0 || plan.questions.is_empty() {
        return Err(LoadError::Plan("customers, messages and questions must not be empty".into()));
    }
    let customers: Vec<Customer> = (0..plan.customers).map(|i| plan.customer(run, i)).collect::<Result<_, _>>()?;
    let mut lookup = HashMap::new();
    for (i, c) in customers.iter().enumerate() {
        lookup.insert(c.email.as_str().to_string(), i);
        lookup.insert(c.phone.as_str().to_string(), i);
    }
    let channels: &[Channel] = if plan.via_http {
        &[Channel::Whatsapp]
    } else if plan.cross_channel {
        &[Channel::Email, Channel::Whatsapp]
    } else {
        &[Channel::Email]
    };
    if plan.via_http && target.twilio.is_none() {
        return Err(LoadError::Plan("an HTTP plan needs the api process's Twilio number".into()));
    }
    let waiting: Waiting = Arc::default();
    let stop = Arc::new(tokio::sync::Notify::new());
    let since = chrono::Utc::now();
    let outbound: Vec<String> = channels.iter().map(|c| target.topics.outbound(*c)).collect();
    let consumer = own_consumer(target, &outbound)?;
    let reader = tokio::spawn(read_replies(consumer, lookup, waiting.clone(), since, stop.clone()));
    let routed: Routed = Arc::default();
    let stop_tickets = Arc::new(tokio::sync::Notify::new());
    let tickets = own_consumer(target, &[target.topics.tickets()])?;
    let ticket_reader =
        tokio::spawn(read_tickets(tickets, routed.clone(), ticket_prefix(plan, run), stop_tickets.clone()));
    let hops = Arc::new(Mutex::new(HopRecorder::new().map_err(LoadError::Plan)?));
    let producer = target.producer.clone();
    let recorder = Arc::new(Mutex::new(Recorder::new()?));
    let total = (plan.customers * plan.messages) as u64;
    let progress = indicatif::ProgressBar::new(total).with_message(plan.name.clone());
    progress.set_style(
        indicatif::ProgressStyle::with_template("{msg:>14} [{bar:40}] {pos}/{len} {per_sec} eta {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let customers = Arc::new(customers);
    let ctx = Arc::new(Ctx {
        target: target.clone(),
        plan: plan.clone(),
        run: run.to_string(),
        customers,
        producer,
        waiting,
        recorder: recorder.clone(),
        http: reqwest::Client::new(),
        hops: hops.clone(),
        routed,
        progress: progress.clone(),
    });
    let started = Instant::now();
    let mut sent = 0u64;
    match plan.pace {
        Pace::Closed { in_flight } => {
            let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let mut tasks = tokio::task::JoinSet::new();
            for _ in 0..in_flight.max(1) {
                let (ctx, next) = (ctx.clone(), next.clone());
                tasks.spawn(async move {
                    let mut sent = 0u64;
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if i >= ctx.customers.len() {
                            return sent;
                        }
                        for m in 0..ctx.plan.messages {
                            sent += 1;
                            if !ctx.one(i, m).await {
                                // Unanswered: this conversation stops here.
                                ctx.lost((ctx.plan.messages - m - 1) as u64);
                                break;
                            }
                        }
                    }
                });
            }
            while let Some(done) = tasks.join_next().await {
                sent += done.unwrap_or(0);
            }
        }
        Pace::Open { per_sec } => {
            if per_sec <= 0.0 {
                return Err(LoadError::Plan("an open loop needs a positive rate".into()));
            }
            let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / per_sec));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let mut tasks = tokio::task::JoinSet::new();
            for m in 0..plan.messages {
                for i in 0..plan.customers {
                    tick.tick().await;
                    let ctx = ctx.clone();
                    sent += 1;
                    tasks.spawn(async move { ctx.one(i, m).await });
                }
            }
            while tasks.join_next().await.is_some() {}
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    progress.finish_and_clear();
    // One permit each: a reader busy with a record sees it next time round.
    stop.notify_one();
    stop_tickets.notify_one();
    let _ = tokio::join!(reader, ticket_reader);
    let recorder = recorder.lock().map_err(|_| LoadError::Plan("recorder poisoned".into()))?;
    let replies = recorder.all.len();
    Ok(ScenarioResult {
        name: plan.name.clone(),
        description,
        customers: plan.customers as u64,
        messages_sent: sent,
        replies_received: replies,
        errors: recorder.errors,
        seconds,
        throughput_per_sec: if seconds > 0.0 { replies as f64 / seconds } else { 0.0 },
        latency_ms: percentiles_us(&recorder.all),
        histogram: buckets(&recorder.all),
        timeline: recorder.timeline(),
        figures: Vec::new(),
        hops: hops.lock().map(|h| h.summary()).unwrap_or_default(),
    })
}

/// What every sender task shares.
struct Ctx {
    target: Target,
    plan: Plan,
    run: String,
    customers: Arc<Vec<Customer>>,
    producer: KafkaProducer,
    waiting: Waiting,
    recorder: Arc<Mutex<Recorder>>,
    http: reqwest::Client,
    hops: Arc<Mutex<HopRecorder>>,
    routed: Routed,
    progress: indicatif::ProgressBar,
}

impl Ctx {
    /// Sends customer `i`'s message `m` and waits for its reply; false when
    /// none came (or the send failed).
    async fn one(&self, i: usize, m: usize) -> bool {
        let customer = &self.customers[i];
        let message = self.plan.message(self.target.tenant, &self.run, customer, i, m);
        let topic = self.target.topics.inbound(message.channel);
        let key = message.sender.value().to_string();
        let Ok(envelope) =
            Envelope::new(EventType::Inbound, "/fte/bench", self.target.tenant, Some(key.clone()), &message)
        else {
            self.failed();
            return false;
        };
        let (tx, rx) = oneshot::channel();
        if let Ok(mut w) = self.waiting.lock() {
            w.entry(i).or_default().push_back(tx);
        }
        let sent_at = Instant::now();
        let sent_wall = chrono::Utc::now();
        let sent = match &self.target.twilio {
            Some(twilio) if self.plan.via_http => {
                post_twilio(&self.http, twilio, &message).await.map_err(|e| e.to_string())
            }
            _ => self.producer.send(&topic, &key, &envelope).await.map(|_| ()).map_err(|e| e.to_string()),
        };
        if let Err(e) = sent {
            tracing::warn!(error = %e, "bench: sending the message failed");
            self.failed();
            return false;
        }
        match tokio::time::timeout(self.plan.reply_timeout, rx).await {
            Ok(Ok((arrived, stamps))) => {
                if let Ok(mut r) = self.recorder.lock() {
                    r.reply(arrived.saturating_duration_since(sent_at));
                }
                let routed = self.routed.remove(&routing_id(&self.plan, &message)).map(|(_, at)| at);
                if let Ok(mut h) = self.hops.lock() {
                    h.record(sent_wall, routed, stamps);
                }
                self.progress.inc(1);
                true
            }
            _ => {
                self.failed();
                false
            }
        }
    }

    fn failed(&self) {
        if let Ok(mut r) = self.recorder.lock() {
            r.errors += 1;
        }
        self.progress.inc(1);
    }

    /// Messages a stopped conversation will never send.
    fn lost(&self, n: u64) {
        self.progress.inc(n);
    }
}
