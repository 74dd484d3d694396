//! Scoring of an eval run: per-ticket lines and the summary figures
//! (`action_accuracy`, `reason_accuracy` on escalations, `answer_accuracy`,
//! `escalation_rate`, `format_violations`, `identity_accuracy`, latency
//! percentiles), the same accuracies per channel (`channels`), and the
//! confidence's reliability diagram (`calibration`).

use super::tickets::Ticket;
use crate::agent::config::AgentConfig;
use crate::agent::format::check_format;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// What the runtime did with one ticket.
#[derive(Clone, Debug)]
pub struct Got {
    pub customer: uuid::Uuid,
    /// `reply` (answer), `draft` (awaiting approval), `escalate`, or
    /// `forwarded` (the conversation was already with humans).
    pub action: String,
    pub reason: Option<String>,
    pub sources: Vec<String>,
    /// The text the customer received, if any.
    pub reply: Option<String>,
    pub draft: Option<String>,
    pub ticket_ref: Option<String>,
    pub confidence: Option<f32>,
}

#[derive(Clone, Debug)]
pub struct Outcome {
    pub ticket: Ticket,
    pub got: Got,
    pub latency_ms: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Line {
    pub id: String,
    pub channel: String,
    pub expected_action: String,
    pub expected_reason: Option<String>,
    pub expected_article: Option<String>,
    pub got_action: String,
    pub got_reason: Option<String>,
    pub got_articles: Vec<String>,
    pub confidence: Option<f32>,
    pub action_ok: bool,
    pub answer_ok: bool,
    pub missing_mentions: Vec<String>,
    pub format_violations: Vec<String>,
    pub latency_ms: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub tickets: usize,
    pub action_accuracy: f64,
    pub reason_accuracy: f64,
    pub answer_accuracy: f64,
    pub escalation_rate: f64,
    pub format_violations: usize,
    pub identity_accuracy: f64,
    pub returning_customers: usize,
    pub drafts: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    /// The figures of each channel's tickets, by channel name.
    pub channels: BTreeMap<String, ChannelFigures>,
    /// The confidence's reliability diagram (`calibration`).
    pub calibration: super::calibration::Reliability,
}

/// One channel's share of a run, scored as the whole run is.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ChannelFigures {
    pub tickets: usize,
    pub action_accuracy: f64,
    pub answer_accuracy: f64,
    /// Of this channel's tickets whose customer wrote before.
    pub identity_accuracy: f64,
    pub returning_customers: usize,
}

/// Counts behind a `ChannelFigures`.
#[derive(Default)]
struct ChannelCounts {
    tickets: usize,
    action_ok: usize,
    answer_ok: usize,
    returning: usize,
    identity_ok: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_match_case_insensitively_and_in_the_second_person() {
        assert!(mentions("could you tell me what you need help with?", "what they need help with"));
        assert!(mentions("use settings > billing", "Settings > Billing"));
        assert!(!mentions("what we need", "what they need help with"));
    }

    fn outcome(id: &str, channel: &str, customer: serde_json::Value, expected: &str, got: &str, who: u128) -> Outcome {
        let ticket: Ticket = serde_json::from_value(serde_json::json!({
            "id": id, "channel": channel, "customer": customer, "message": "hi",
            "expected": {"action": expected},
        }))
        .unwrap();
        let got = Got {
            customer: uuid::Uuid::from_u128(who),
            action: got.into(),
            reason: None,
            sources: Vec::new(),
            reply: None,
            draft: None,
            ticket_ref: None,
            confidence: None,
        };
        Outcome { ticket, got, latency_ms: 1.0 }
    }

    #[test]
    fn figures_per_channel() {
        use serde_json::json;
        let lena = json!({"email": "lena@example.com"});
        let outcomes = vec![
            outcome("T1", "web_form", lena.clone(), "answer", "reply", 1),
            outcome("T2", "slack", json!({"email": "lena@example.com", "slack_user": "U1"}), "answer", "reply", 1),
            outcome("T3", "slack", json!({"slack_user": "U2"}), "answer", "escalate", 2),
            outcome("T4", "whatsapp", json!({"phone": "+447700900418"}), "escalate", "escalate", 3),
            outcome("T5", "slack", json!({"slack_user": "U2"}), "answer", "reply", 4),
        ];
        let report = Report::score(outcomes, &AgentConfig::default());
        let s = &report.summary;
        assert_eq!(s.channels.keys().collect::<Vec<_>>(), ["slack", "web_form", "whatsapp"]);
        let slack = &s.channels["slack"];
        assert_eq!(slack.tickets, 3);
        assert!((slack.answer_accuracy - 2.0 / 3.0).abs() < 1e-9, "{slack:?}");
        assert!((slack.action_accuracy - 2.0 / 3.0).abs() < 1e-9);
        // T2 found Lena's customer, T5 did not find T3's.
        assert_eq!((slack.returning_customers, slack.identity_accuracy), (2, 0.5));
        let form = &s.channels["web_form"];
        assert_eq!(
            (form.tickets, form.answer_accuracy, form.returning_customers, form.identity_accuracy),
            (1, 1.0, 0, 1.0)
        );
        assert_eq!(s.channels["whatsapp"].answer_accuracy, 1.0);
        // The overall figures are the channels' together.
        assert_eq!((s.tickets, s.returning_customers), (5, 2));
        assert!((s.answer_accuracy - 0.8).abs() < 1e-9);
        let json = serde_json::to_value(s).unwrap();
        assert_eq!(json["channels"]["slack"]["tickets"], 3);
    }
}

#[derive(Clone, Debug)]
pub struct Report {
    pub lines: Vec<Line>,
    pub summary: Summary,
}

/// Whether the reply states a `must_mention` fact: case-insensitive
/// substring. Facts are written from the labeller's side ("ask what they
/// need help with"), the reply speaks to the customer ("what you need help
/// with"), so the customer's pronouns are read as the second person.
fn mentions(reply_lower: &str, fact: &str) -> bool {
    let fact = fact.to_lowercase();
    if reply_lower.contains(&fact) {
        return true;
    }
    let second_person: Vec<&str> = fact
        .split(' ')
        .map(|w| match w {
            "they" => "you",
            "their" => "your",
            "them" => "you",
            "theirs" => "yours",
            other => other,
        })
        .collect();
    reply_lower.contains(&second_person.join(" "))
}

fn ratio(num: usize, den: usize) -> f64 {
    if den == 0 { 1.0 } else { num as f64 / den as f64 }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

impl Report {
    pub fn score(outcomes: Vec<Outcome>, config: &AgentConfig) -> Self {
        let mut lines = Vec::new();
        let (mut action_ok, mut esc_expected, mut reason_ok, mut answer_ok, mut escalated, mut violations) =
            (0, 0, 0, 0, 0, 0);
        let mut drafts = 0;
        // Identity: a ticket whose customer shares an identifier with an
        // earlier ticket must land on that ticket's customer.
        let mut seen: HashMap<String, uuid::Uuid> = HashMap::new();
        let (mut returning, mut identity_ok) = (0, 0);
        let mut latencies = Vec::new();
        let mut by_channel: BTreeMap<String, ChannelCounts> = BTreeMap::new();
        for o in &outcomes {
            let t = &o.ticket;
            let g = &o.got;
            let counts = by_channel.entry(t.channel.clone()).or_default();
            counts.tickets += 1;
            let keys = t.identity_keys();
            let earlier: Vec<uuid::Uuid> = keys.iter().filter_map(|k| seen.get(k).copied()).collect();
            if !earlier.is_empty() {
                returning += 1;
                counts.returning += 1;
                if earlier.iter().all(|c| *c == g.customer) {
                    identity_ok += 1;
                    counts.identity_ok += 1;
                }
            }
            for k in keys {
                seen.entry(k).or_insert(g.customer);
            }

            let got_action = match g.action.as_str() {
                "reply" => "answer",
                other => other,
            };
            let a_ok = got_action == t.expected.action;
            action_ok += usize::from(a_ok);
            if t.expected.action == "escalate" {
                esc_expected += 1;
                if a_ok && g.reason == t.expected.reason {
                    reason_ok += 1;
                }
            }
            if got_action == "escalate" {
                escalated += 1;
            }
            if g.action == "draft" {
                drafts += 1;
            }
            let reply = g.reply.clone().unwrap_or_default().to_lowercase();
            let missing: Vec<String> =
                t.expected.must_mention.iter().filter(|m| !mentions(&reply, m)).cloned().collect();
            let article_ok = match &t.expected.kb_article {
                None => true,
                Some(a) => g.sources.first() == Some(a),
            };
            let ans_ok = a_ok && article_ok && missing.is_empty();
            answer_ok += usize::from(ans_ok);
            counts.action_ok += usize::from(a_ok);
            counts.answer_ok += usize::from(ans_ok);
            let fmt: Vec<String> = match (&g.reply, t.channel()) {
                (Some(text), Ok(channel)) => {
                    // Email replies that answer carry the ticket reference.
                    let ticket = if got_action == "answer" { g.ticket_ref.as_deref() } else { None };
                    check_format(channel, text, config, ticket).iter().map(|v| format!("{v:?}")).collect()
                }
                _ => Vec::new(),
            };
            violations += fmt.len();
            latencies.push(o.latency_ms);
            lines.push(Line {
                id: t.id.clone(),
                channel: t.channel.clone(),
                expected_action: t.expected.action.clone(),
                expected_reason: t.expected.reason.clone(),
                expected_article: t.expected.kb_article.clone(),
                got_action: got_action.to_string(),
                got_reason: g.reason.clone(),
                got_articles: g.sources.clone(),
                confidence: g.confidence,
                action_ok: a_ok && (t.expected.action != "escalate" || g.reason == t.expected.reason),
                answer_ok: ans_ok,
                missing_mentions: missing,
                format_violations: fmt,
                latency_ms: o.latency_ms,
            });
        }
        latencies.sort_by(f64::total_cmp);
        let n = outcomes.len();
        let summary = Summary {
            tickets: n,
            action_accuracy: ratio(action_ok, n),
            reason_accuracy: ratio(reason_ok, esc_expected),
            answer_accuracy: ratio(answer_ok, n),
            escalation_rate: ratio(escalated, n),
            format_violations: violations,
            identity_accuracy: ratio(identity_ok, returning),
            returning_customers: returning,
            drafts,
            p50_ms: percentile(&latencies, 50.0),
            p95_ms: percentile(&latencies, 95.0),
            channels: by_channel
                .into_iter()
                .map(|(channel, c)| {
                    let figures = ChannelFigures {
                        tickets: c.tickets,
                        action_accuracy: ratio(c.action_ok, c.tickets),
                        answer_accuracy: ratio(c.answer_ok, c.tickets),
                        identity_accuracy: ratio(c.identity_ok, c.returning),
                        returning_customers: c.returning,
                    };
                    (channel, figures)
                })
                .collect(),
            calibration: super::calibration::reliability(&lines),
        };
        Report { lines, summary }
    }

    /// One human-readable line per ticket.
    pub fn print_lines(&self) {
        for l in &self.lines {
            let expected = match (&l.expected_reason, &l.expected_article) {
                (Some(r), _) => format!("{}({r})", l.expected_action),
                (None, Some(a)) => format!("{}({a})", l.expected_action),
                _ => l.expected_action.clone(),
            };
            let got = match (&l.got_reason, l.got_articles.first()) {
                (Some(r), _) => format!("{}({r})", l.got_action),
                (None, Some(a)) => format!("{}({a})", l.got_action),
                _ => l.got_action.clone(),
            };
            let mark = if l.action_ok && l.answer_ok {
                "ok  "
            } else if l.action_ok {
                "part"
            } else {
                "FAIL"
            };
            let mut extra = String::new();
            if !l.missing_mentions.is_empty() {
                extra.push_str(&format!(" missing={:?}", l.missing_mentions));
            }
            if !l.format_violations.is_empty() {
                extra.push_str(&format!(" format={:?}", l.format_violations));
            }
            if let Some(c) = l.confidence {
                extra.push_str(&format!(" conf={c:.2}"));
            }
            println!(
                "{mark} {:<6} {:<9} expected {expected:<45} got {got}{extra} {:.0}ms",
                l.id, l.channel, l.latency_ms
            );
        }
        let s = &self.summary;
        println!(
            "tickets {}  action {:.3}  reason {:.3}  answer {:.3}  escalation_rate {:.3}  format_violations {}  identity {:.3} ({} returning)  drafts {}  p50 {:.0} ms  p95 {:.0} ms",
            s.tickets,
            s.action_accuracy,
            s.reason_accuracy,
            s.answer_accuracy,
            s.escalation_rate,
            s.format_violations,
            s.identity_accuracy,
            s.returning_customers,
            s.drafts,
            s.p50_ms,
            s.p95_ms
        );
        println!("{:<9} {:>7} {:>7} {:>7} {:>9}", "channel", "tickets", "action", "answer", "identity");
        for (channel, c) in &s.channels {
            println!(
                "{channel:<9} {:>7} {:>7.3} {:>7.3} {:>9.3} ({} returning)",
                c.tickets, c.action_accuracy, c.answer_accuracy, c.identity_accuracy, c.returning_customers
            );
        }
        s.calibration.print();
    }
}
