//! Calibration of the agent's confidence on an eval run: a reliability
//! diagram (tickets binned by the confidence of the decision taken, each
//! bin's mean confidence against its accuracy) and the expected
//! calibration error. Only the decisions retrieval makes count: an answer
//! from an article (sent or held as a draft) and a `no_knowledge`
//! hand-over. An answer is right when its article is the labelled one; a
//! hand-over when the label is `no_knowledge`.

use super::report::Line;
use serde::Serialize;

/// Bins of width 0.1 from this confidence up (lower ones go to the first).
const FIRST_BIN: f64 = 0.5;
const BINS: usize = 5;

/// One bin of the reliability diagram.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ReliabilityBin {
    /// Confidence range [low, high) (the last bin includes 1.0).
    pub low: f64,
    pub high: f64,
    pub tickets: usize,
    pub mean_confidence: f64,
    /// Share of the bin's decisions that were right.
    pub accuracy: f64,
}

/// The reliability diagram of a run.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Reliability {
    /// Decisions counted (answers from an article and `no_knowledge`).
    pub decisions: usize,
    pub bins: Vec<ReliabilityBin>,
    /// Expected calibration error: the bins' |accuracy − confidence|,
    /// weighted by their share of the decisions.
    pub ece: f64,
}

/// Whether a line is a retrieval decision, and if so whether it was right.
fn judged(l: &Line) -> Option<(f64, bool)> {
    let confidence = f64::from(l.confidence?);
    match (l.got_action.as_str(), l.got_reason.as_deref()) {
        ("answer" | "draft", _) if !l.got_articles.is_empty() => {
            let right = l.expected_action == "answer" && l.got_articles.first() == l.expected_article.as_ref();
            Some((confidence, right))
        }
        ("escalate", Some("no_knowledge")) => Some((confidence, l.expected_reason.as_deref() == Some("no_knowledge"))),
        _ => None,
    }
}

/// The reliability diagram of `lines`.
pub fn reliability(lines: &[Line]) -> Reliability {
    let judged: Vec<(f64, bool)> = lines.iter().filter_map(judged).collect();
    let mut bins: Vec<ReliabilityBin> = (0..BINS)
        .map(|i| {
            let low = FIRST_BIN + 0.1 * i as f64;
            ReliabilityBin { low: if i == 0 { 0.0 } else { low }, high: low + 0.1, ..Default::default() }
        })
        .collect();
    let mut sums = vec![(0.0f64, 0usize); BINS];
    for (confidence, right) in &judged {
        // Confidences are f32: 0.9 arrives as 0.89999998, which belongs to 0.9.
        let i = (((confidence - FIRST_BIN) / 0.1 + 1e-6).floor().max(0.0) as usize).min(BINS - 1);
        bins[i].tickets += 1;
        sums[i].0 += confidence;
        sums[i].1 += usize::from(*right);
    }
    let mut ece = 0.0;
    for (bin, (confidence, right)) in bins.iter_mut().zip(sums) {
        if bin.tickets > 0 {
            bin.mean_confidence = confidence / bin.tickets as f64;
            bin.accuracy = right as f64 / bin.tickets as f64;
            ece += (bin.accuracy - bin.mean_confidence).abs() * bin.tickets as f64 / judged.len() as f64;
        }
    }
    Reliability { decisions: judged.len(), bins, ece }
}

impl Reliability {
    /// The diagram as text: one line per bin.
    pub fn print(&self) {
        println!("calibration: {} decisions, ECE {:.3}", self.decisions, self.ece);
        for b in &self.bins {
            let bar = "#".repeat((b.accuracy * 20.0).round() as usize);
            println!(
                "  [{:.1}, {:.1})  n {:>3}  confidence {:.2}  accuracy {:.2}  {bar}",
                b.low, b.high, b.tickets, b.mean_confidence, b.accuracy
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(got: &str, reason: Option<&str>, article: Option<&str>, expected: &str, confidence: f32) -> Line {
        Line {
            id: "T".into(),
            channel: "email".into(),
            expected_action: expected.into(),
            expected_reason: (expected == "escalate").then(|| "no_knowledge".to_string()),
            expected_article: (expected == "answer").then(|| "a.md".to_string()),
            got_action: got.into(),
            got_reason: reason.map(str::to_string),
            got_articles: article.map(|a| vec![a.to_string()]).unwrap_or_default(),
            confidence: Some(confidence),
            action_ok: true,
            answer_ok: true,
            missing_mentions: Vec::new(),
            format_violations: Vec::new(),
            latency_ms: 1.0,
        }
    }

    #[test]
    fn bins_compare_confidence_with_accuracy() {
        let lines = vec![
            line("answer", None, Some("a.md"), "answer", 0.95),
            line("answer", None, Some("b.md"), "answer", 0.91),
            line("draft", None, Some("a.md"), "answer", 0.65),
            line("escalate", Some("no_knowledge"), None, "escalate", 0.9),
            // Not a retrieval decision: a rule's escalation.
            line("escalate", Some("pricing_inquiry"), None, "escalate", 1.0),
        ];
        let r = reliability(&lines);
        assert_eq!(r.decisions, 4);
        let top = &r.bins[4];
        assert_eq!(top.tickets, 3);
        assert!((top.accuracy - 2.0 / 3.0).abs() < 1e-9);
        assert!((top.mean_confidence - (0.95 + 0.91 + 0.9) / 3.0).abs() < 1e-6);
        assert_eq!((r.bins[1].tickets, r.bins[1].accuracy), (1, 1.0));
        assert!(r.ece > 0.0 && r.ece < 1.0);
        assert!(reliability(&[]).bins.iter().all(|b| b.tickets == 0));
    }
}
