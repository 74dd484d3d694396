//! The driver of the `webhook_ack` scenario: new customers' messages as
//! signed provider webhooks (built by [`super::webhook`]), posted to the
//! `api` process in a closed loop, `in_flight` at a time, the channels
//! interleaved. Each webhook's latency runs from just before the send to
//! its 2xx answer, read whole (the request is built and signed before),
//! and is recorded in HDR histograms overall, per second of the run and per
//! channel; any other answer, or none, is an error of its channel. Replies
//! are not awaited: this measures the acknowledgement alone. Owns
//! `AckPlan`, `drive` and the names of the per-channel figures.

use super::deployment::Ingress;
use super::load::{LoadError, Recorder, buckets, histogram, micros, percentiles_us};
use super::report::{Figure, ScenarioResult};
use super::webhook::{self, NewMessage, Webhook, WebhookError};
use hdrhistogram::Histogram;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One `webhook_ack` load.
#[derive(Clone, Debug)]
pub struct AckPlan {
    pub ingress: Ingress,
    /// Keeps this run's customers apart from earlier ones.
    pub run: String,
    /// Webhooks per channel, each from a new customer.
    pub per_channel: usize,
    pub in_flight: usize,
    /// What the customers write (cycled).
    pub questions: Vec<String>,
}

/// The name of one of a channel's figures: `Slack ack p99`,
/// `web form ack errors`.
pub fn figure_name(hook: Webhook, what: &str) -> String {
    format!("{} ack {what}", hook.label())
}

/// One channel's acknowledgements.
struct Acks {
    latency: Histogram<u64>,
    errors: u64,
}

/// What every sender task shares.
struct Ctx {
    plan: AckPlan,
    client: reqwest::Client,
    next: AtomicUsize,
    recorder: Mutex<Recorder>,
    channels: Mutex<Vec<Acks>>,
}

/// Builds and signs `message` as `hook`'s webhook, then posts it: how long
/// its acknowledgement took.
async fn post(
    client: &reqwest::Client,
    ingress: &Ingress,
    hook: Webhook,
    message: &NewMessage<'_>,
) -> Result<Duration, WebhookError> {
    let request = webhook::request(client, ingress, hook, message)?;
    let sent = Instant::now();
    webhook::acknowledged(request).await.map(|()| sent.elapsed())
}

/// Warms the `api` process up, unmeasured: one webhook per channel, from
/// customers after the plan's (its producer's first publish to a topic
/// fetches the topic's metadata, close to a second that the first requests
/// would otherwise count). How many were acknowledged.
pub async fn warm_up(plan: &AckPlan) -> u64 {
    let client = reqwest::Client::new();
    let text = plan.questions.first().map_or("How do I reset my password?", String::as_str);
    let message = NewMessage { run: &plan.run, customer: plan.per_channel, text };
    let mut acked = 0;
    for hook in Webhook::ALL {
        match post(&client, &plan.ingress, hook, &message).await {
            Ok(_) => acked += 1,
            Err(e) => tracing::warn!(channel = hook.label(), error = %e, "bench: warm-up webhook not acknowledged"),
        }
    }
    acked
}

/// Posts `plan`'s webhooks and measures their acknowledgement.
pub async fn drive(plan: AckPlan, description: String) -> Result<ScenarioResult, LoadError> {
    if plan.per_channel == 0 || plan.questions.is_empty() {
        return Err(LoadError::Plan("webhooks per channel and questions must not be empty".into()));
    }
    let channels =
        Webhook::ALL.iter().map(|_| Ok(Acks { latency: histogram()?, errors: 0 })).collect::<Result<_, LoadError>>()?;
    let in_flight = plan.in_flight.max(1);
    let ctx = Arc::new(Ctx {
        plan,
        client: reqwest::Client::new(),
        next: AtomicUsize::new(0),
        recorder: Mutex::new(Recorder::new()?),
        channels: Mutex::new(channels),
    });
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..in_flight {
        let ctx = ctx.clone();
        tasks.spawn(async move { ctx.send_all().await });
    }
    while tasks.join_next().await.is_some() {}
    ctx.result(started.elapsed().as_secs_f64(), description)
}

impl Ctx {
    fn total(&self) -> usize {
        self.plan.per_channel * Webhook::ALL.len()
    }

    /// Takes the next webhook until all are sent.
    async fn send_all(&self) {
        loop {
            let j = self.next.fetch_add(1, Ordering::Relaxed);
            if j >= self.total() {
                return;
            }
            let hook = Webhook::ALL[j % Webhook::ALL.len()];
            self.one(hook, j / Webhook::ALL.len()).await;
        }
    }

    /// Posts customer `customer`'s message as `hook`'s webhook and records
    /// how long its acknowledgement took.
    async fn one(&self, hook: Webhook, customer: usize) {
        let questions = &self.plan.questions;
        let text = &questions[customer % questions.len()];
        let message = NewMessage { run: &self.plan.run, customer, text };
        let outcome = post(&self.client, &self.plan.ingress, hook, &message).await;
        self.record(hook, customer, outcome);
    }

    fn record(&self, hook: Webhook, customer: usize, outcome: Result<Duration, WebhookError>) {
        let (Ok(mut recorder), Ok(mut channels)) = (self.recorder.lock(), self.channels.lock()) else { return };
        // `Webhook::ALL` is in declaration order.
        let acks = &mut channels[hook as usize];
        match outcome {
            Ok(took) => {
                recorder.reply(took);
                let _ = acks.latency.record(micros(took));
            }
            Err(e) => {
                tracing::warn!(channel = hook.label(), customer, error = %e, "bench: webhook not acknowledged");
                recorder.errors += 1;
                acks.errors += 1;
            }
        }
    }

    fn result(&self, seconds: f64, description: String) -> Result<ScenarioResult, LoadError> {
        let poisoned = || LoadError::Plan("recorder poisoned".into());
        let recorder = self.recorder.lock().map_err(|_| poisoned())?;
        let channels = self.channels.lock().map_err(|_| poisoned())?;
        let acked = recorder.all.len();
        Ok(ScenarioResult {
            name: "webhook_ack".into(),
            description,
            customers: self.total() as u64,
            messages_sent: self.total() as u64,
            replies_received: acked,
            errors: recorder.errors,
            seconds,
            throughput_per_sec: if seconds > 0.0 { acked as f64 / seconds } else { 0.0 },
            latency_ms: percentiles_us(&recorder.all),
            histogram: buckets(&recorder.all),
            timeline: recorder.timeline(),
            figures: Webhook::ALL.iter().zip(channels.iter()).flat_map(|(hook, acks)| figures(*hook, acks)).collect(),
            hops: Vec::new(),
        })
    }
}

/// A channel's ack p50, p95, p99 and max (ms; none when nothing was
/// acknowledged) and its errors.
fn figures(hook: Webhook, acks: &Acks) -> Vec<Figure> {
    let figure =
        |what: &str, value: f64, unit: &str| Figure { name: figure_name(hook, what), value, unit: unit.into() };
    let h = &acks.latency;
    let ms = |us: u64| us as f64 / 1000.0;
    let mut out = Vec::new();
    if !h.is_empty() {
        out.push(figure("p50", ms(h.value_at_quantile(0.50)), "ms"));
        out.push(figure("p95", ms(h.value_at_quantile(0.95)), "ms"));
        out.push(figure("p99", ms(h.value_at_quantile(0.99)), "ms"));
        out.push(figure("max", ms(h.max()), "ms"));
    }
    out.push(figure("errors", acks.errors as f64, "webhooks"));
    out
}
