//! Runs [`check_message`] over the labelled sample tickets and reports, per ticket, the
//! expected decision against ours. `no_knowledge` tickets need retrieval, so from
//! `check_message` they are expected to come out unescalated; they are counted apart.
//!
//! The file is the repository's copy, `context/sample-tickets.json`.

use std::path::PathBuf;

use serde_json::Value;

use super::super::{Channel, Reason, check_message};

fn tickets_path() -> Option<PathBuf> {
    Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("context/sample-tickets.json"))
}

fn channel(code: &str) -> Option<Channel> {
    match code {
        "email" => Some(Channel::Email),
        "whatsapp" => Some(Channel::Whatsapp),
        "slack" => Some(Channel::Slack),
        "web_form" => Some(Channel::Webform),
        _ => None,
    }
}

/// The coarse label the tickets use: negative below 0.46, positive from 0.66.
fn sentiment_label(score: f32) -> &'static str {
    if score < 0.46 {
        "negative"
    } else if score < 0.66 {
        "neutral"
    } else {
        "positive"
    }
}

#[test]
fn sample_tickets_agree_with_expected_reasons() {
    let Some(path) = tickets_path() else {
        panic!("the repository's context/sample-tickets.json is missing");
    };
    let raw = std::fs::read_to_string(&path).unwrap_or_default();
    let tickets: Vec<Value> = serde_json::from_str(&raw).unwrap_or_default();
    assert!(!tickets.is_empty(), "no tickets in {}", path.display());

    let (mut scored, mut agreed, mut no_knowledge, mut nk_clean, mut label_agreed) = (0, 0, 0, 0, 0);
    let mut disagreements = Vec::new();
    for ticket in &tickets {
        let id = ticket["id"].as_str().unwrap_or("?");
        let Some(channel) = ticket["channel"].as_str().and_then(channel) else {
            panic!("{id}: unknown channel {:?}", ticket["channel"]);
        };
        let expected = ticket["expected"]["reason"].as_str().and_then(Reason::parse);
        let verdict = check_message(channel, ticket["subject"].as_str(), ticket["message"].as_str().unwrap_or(""));
        let label = sentiment_label(verdict.sentiment);
        let expected_label = ticket["expected"]["sentiment"].as_str().unwrap_or("?");
        label_agreed += usize::from(label == expected_label);
        let got = verdict.reason.map_or("answer", |r| r.as_str());
        let want = expected.map_or("answer", |r| r.as_str());
        let line = format!(
            "{id} {channel:?}: expected {want}, got {got} (sentiment {:.2} {label}, expected {expected_label}) {:?}",
            verdict.sentiment, verdict.matched
        );
        println!("{line}");
        if expected == Some(Reason::NoKnowledge) {
            no_knowledge += 1;
            nk_clean += usize::from(verdict.reason.is_none());
            if verdict.reason.is_some() {
                disagreements.push(line);
            }
            continue;
        }
        scored += 1;
        if verdict.reason == expected {
            agreed += 1;
        } else {
            disagreements.push(line);
        }
    }
    println!("tickets: {agreed}/{scored} agree (excluding no_knowledge)");
    println!("no_knowledge tickets left unescalated by check_message: {nk_clean}/{no_knowledge}");
    println!("sentiment label agreement: {label_agreed}/{}", tickets.len());
    assert!(disagreements.is_empty(), "disagreements:\n{}", disagreements.join("\n"));
}
