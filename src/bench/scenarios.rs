//! The scenarios of a bench run, each a load plan on the deployment plus
//! the figures it exists for: `max` (closed loop: the highest sustained
//! rate), `steady` (open loop at half of it: latency at a load), `burst`
//! (open loop at three times it: how the backlog drains), `cross_channel`
//! (one person on email and WhatsApp), `http_ingress` (WhatsApp customers
//! through signed Twilio webhooks to the `api` role), `webhook_ack` (how
//! long the `api` role takes to acknowledge each channel's signed webhook,
//! under load; see [`super::ack`]), `idle` (memory per
//! resident conversation in the worker) and `restart` (SIGKILL the worker
//! with conversations resident; time until every customer is answered
//! again). The `kb_search` scenario is in `super::kb`.

use super::ack::{self, AckPlan};
use super::deployment::Deployment;
use super::load::{LoadError, Pace, Plan, Target, drive};
use super::report::{Figure, ScenarioResult};
use std::time::{Duration, Instant};

/// What customers ask: questions the sample knowledge base answers, so the
/// local brain replies instead of handing over.
pub const QUESTIONS: [&str; 6] = [
    "How do I export my invoices to CSV?",
    "How can I change the currency on an invoice?",
    "Where do I add a new team member?",
    "How do I connect my bank account?",
    "Can I set up recurring invoices?",
    "How do I reset my password?",
];

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Deployment(#[from] super::deployment::DeploymentError),
    /// What a scenario sets up for itself (a fake server, settings) failed.
    #[error("scenario set-up: {0}")]
    Setup(String),
}

/// The knobs of one run.
#[derive(Clone, Debug)]
pub struct Sizes {
    pub customers: usize,
    pub messages: usize,
    pub in_flight: usize,
    pub steady: Duration,
    pub burst: Duration,
    pub idle_customers: usize,
    pub restart_customers: usize,
    pub reply_timeout: Duration,
}

pub(super) fn plan(name: &str, customers: usize, messages: usize, pace: Pace, sizes: &Sizes) -> Plan {
    Plan {
        name: name.into(),
        customers: customers.max(1),
        messages: messages.max(1),
        pace,
        cross_channel: false,
        reply_timeout: sizes.reply_timeout,
        questions: QUESTIONS.iter().map(|q| q.to_string()).collect(),
        first_message: 0,
        via_http: false,
    }
}

pub(super) fn target(d: &Deployment) -> Target {
    Target {
        kafka: d.kafka.clone(),
        producer: d.producer.clone(),
        topics: d.topics.clone(),
        tenant: d.tenant,
        twilio: d.twilio.clone(),
    }
}

pub(super) fn figure(name: &str, value: f64, unit: &str) -> Figure {
    Figure { name: name.into(), value, unit: unit.into() }
}

/// Closed loop: `in_flight` conversations at a time.
pub async fn max(d: &Deployment, sizes: &Sizes, run: &str) -> Result<ScenarioResult, ScenarioError> {
    let p = plan("max", sizes.customers, sizes.messages, Pace::Closed { in_flight: sizes.in_flight }, sizes);
    let what = format!(
        "{} customers × {} messages, closed loop, {} conversations in flight",
        sizes.customers, sizes.messages, sizes.in_flight
    );
    Ok(drive(&target(d), &p, run, what).await?)
}

/// Open loop at `rate` messages per second for `how_long`.
pub async fn open(
    d: &Deployment,
    sizes: &Sizes,
    run: &str,
    name: &str,
    rate: f64,
    how_long: Duration,
) -> Result<ScenarioResult, ScenarioError> {
    let total = ((rate * how_long.as_secs_f64()).ceil() as usize).max(1);
    let messages = sizes.messages.clamp(1, total);
    let customers = total.div_ceil(messages);
    let p = plan(name, customers, messages, Pace::Open { per_sec: rate }, sizes);
    let what = format!(
        "open loop at {rate:.1} messages/s for {:.0} s ({customers} customers × {messages})",
        how_long.as_secs_f64()
    );
    let mut result = drive(&target(d), &p, run, what).await?;
    result.figures.push(figure("offered rate", rate, "messages/s"));
    Ok(result)
}

/// One person writing on email and WhatsApp alternately.
pub async fn cross_channel(d: &Deployment, sizes: &Sizes, run: &str) -> Result<ScenarioResult, ScenarioError> {
    // A quarter of `max`'s customers: WhatsApp turns of the local brain
    // condense their answers and cost several times an email turn.
    let customers = (sizes.customers / 4).max(1);
    let mut p = plan("cross_channel", customers, 4, Pace::Closed { in_flight: sizes.in_flight }, sizes);
    p.cross_channel = true;
    let what = format!("{customers} customers × 4 messages alternating email and WhatsApp, closed loop");
    Ok(drive(&target(d), &p, run, what).await?)
}

/// WhatsApp customers writing through the `api` process: each message is
/// Twilio's signed webhook (the ingress role verifies the signature,
/// publishes to the inbound topic and answers), closed loop.
pub async fn http_ingress(d: &mut Deployment, sizes: &Sizes, run: &str) -> Result<ScenarioResult, ScenarioError> {
    d.api().await?;
    let customers = (sizes.customers / 4).max(1);
    let mut p = plan("http_ingress", customers, 2, Pace::Closed { in_flight: sizes.in_flight }, sizes);
    p.via_http = true;
    let what =
        format!("{customers} WhatsApp customers × 2 messages as signed Twilio webhooks to `fte api`, closed loop");
    Ok(drive(&target(d), &p, run, what).await?)
}

/// Webhook acknowledgement per channel: `customers / 4` new customers
/// (at least 1) on each of Twilio WhatsApp, Slack, Meta WhatsApp and the
/// web form write one message each, as the provider's signed webhook (or
/// the form's ticket) to the `api` process, closed loop with `in_flight`
/// requests at a time, after one unmeasured webhook per channel warms the
/// process up; the latency is each request's, send → 2xx. Then it
/// waits (up to `reply_timeout`) for the worker to take every acknowledged
/// message's turn, so that the next scenario starts on an idle worker, and
/// reports how long that took (or how many it had not taken in).
pub async fn webhook_ack(d: &mut Deployment, sizes: &Sizes, run: &str) -> Result<ScenarioResult, ScenarioError> {
    let ingress = d.api().await?;
    let per_channel = (sizes.customers / 4).max(1);
    let turns_before = d.turn_totals().await.map_or(0.0, |(n, _)| n);
    let plan = AckPlan {
        ingress,
        run: run.to_string(),
        per_channel,
        in_flight: sizes.in_flight,
        questions: QUESTIONS.iter().map(|q| q.to_string()).collect(),
    };
    let what = format!(
        "{per_channel} new customers per channel × 1 message, as signed Twilio WhatsApp, Slack Events API and Meta \
         WhatsApp Cloud API webhooks and web-form tickets to `fte api`, closed loop, {} in flight; latency and \
         \"replies\" are the webhooks' 2xx acknowledgements (Gmail is left out: its push makes the api role sync \
         from Google's API; the chaos harness covers it)",
        sizes.in_flight
    );
    let warm = ack::warm_up(&plan).await;
    let mut result = ack::drive(plan, what).await?;
    let expected = turns_before + (warm + result.replies_received) as f64;
    settle(d, &mut result, expected, sizes.reply_timeout).await;
    Ok(result)
}

/// Waits for the worker to have committed `turns` customer turns in all,
/// and adds to `result` how long that took, or how many it had not taken
/// in after `within`.
async fn settle(d: &Deployment, result: &mut ScenarioResult, turns: f64, within: Duration) {
    match worker_caught_up(d, turns, within).await {
        Ok(waited) => {
            result.figures.push(figure("worker took every acknowledged message in", waited.as_secs_f64(), "s"));
        }
        Err(seen) => {
            tracing::warn!(
                timeout_secs = within.as_secs(),
                expected_turns = turns,
                turns = seen,
                "webhook_ack: the worker has not taken every acknowledged message in"
            );
            let missing = (turns - seen).max(0.0);
            result.figures.push(figure("acknowledged, not taken in by the worker in time", missing, "messages"));
        }
    }
}

/// Waits until the worker has committed `turns` customer turns in all:
/// how long that took, or the turns it had committed after `within`.
async fn worker_caught_up(d: &Deployment, turns: f64, within: Duration) -> Result<Duration, f64> {
    let started = Instant::now();
    let mut seen = 0.0;
    while started.elapsed() < within {
        seen = d.turn_totals().await.map_or(seen, |(n, _)| n);
        if seen >= turns {
            return Ok(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(seen)
}

/// Memory per resident conversation: the worker's RSS growth while
/// `idle_customers` new customers each have one turn (and stay resident),
/// measured after a first half as many have: the first turns grow the
/// allocator's arenas and the brain's working set once (with the local
/// brain that alone was ~90 MiB, five times the conversations' share),
/// which is no cost per conversation.
pub async fn idle(d: &Deployment, sizes: &Sizes, run: &str) -> Result<ScenarioResult, ScenarioError> {
    let n = sizes.idle_customers;
    let warm = plan("idle-warm", (n / 2).max(1), 1, Pace::Closed { in_flight: sizes.in_flight * 2 }, sizes);
    drive(&target(d), &warm, run, String::new()).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = d.worker_rss_bytes();
    let p = plan("idle", n, 1, Pace::Closed { in_flight: sizes.in_flight * 2 }, sizes);
    let what = format!("{n} new customers, one message each, then left idle (after {} more the same way)", n / 2);
    let mut result = drive(&target(d), &p, run, what).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = d.worker_rss_bytes();
    if let (Some(b), Some(a)) = (before, after) {
        let per = a.saturating_sub(b) as f64 / n.max(1) as f64;
        result.figures.push(figure("worker RSS before", b as f64 / 1_048_576.0, "MiB"));
        result.figures.push(figure("worker RSS after", a as f64 / 1_048_576.0, "MiB"));
        result.figures.push(figure("RSS per resident conversation", per / 1024.0, "KiB"));
        result.figures.push(figure("projected for 100,000 resident", per * 100_000.0 / 1_073_741_824.0, "GiB"));
    }
    Ok(result)
}

/// `restart_customers` conversations resident; SIGKILL the worker, start
/// it again, every customer writes once more: the time from the kill until
/// the last of them is answered.
pub async fn restart(d: &mut Deployment, sizes: &Sizes, run: &str) -> Result<ScenarioResult, ScenarioError> {
    let n = sizes.restart_customers;
    let warm = plan("restart", n, 1, Pace::Closed { in_flight: sizes.in_flight * 2 }, sizes);
    drive(&target(d), &warm, run, "warm-up".into()).await?;
    let killed = Instant::now();
    d.kill_worker();
    let ready_after = d.start_worker().await?;
    // The same customers (same run tag), their second message.
    let mut again = plan("restart", n, 1, Pace::Closed { in_flight: n }, sizes);
    again.first_message = 1;
    let mut result = drive(&target(d), &again, run, String::new()).await?;
    let served = killed.elapsed();
    result.description =
        format!("{n} resident conversations; worker SIGKILLed and restarted; each customer writes again");
    result.figures.push(figure("worker ready after restart", ready_after.as_secs_f64(), "s"));
    result.figures.push(figure("all served again after kill -9", served.as_secs_f64(), "s"));
    Ok(result)
}
