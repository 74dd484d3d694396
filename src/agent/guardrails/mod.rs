//! Escalation guardrails of the support agent, as pure functions with no I/O:
//!
//! - [`sentiment`]: the 0.0–1.0 sentiment score of a customer message;
//! - [`rules`]: the escalation reasons and [`rules::check_message`], which decides reasons
//!   1–6 of `escalation-rules.md` by intent before any answer is drafted;
//! - [`output_filter`]: [`output_filter::check_reply`], the last check on a drafted reply
//!   (no prices, promises, refunds, internal details or requests for secrets).
//!
//! The helpers ([`text`], [`emoji`], [`pattern`]) are shared plumbing.

pub mod emoji;
pub mod output_filter;
pub mod pattern;
pub mod rules;
pub mod sentiment;
pub mod text;

pub use output_filter::{Violation, check_reply};
pub use rules::{Channel, Reason, RuleVerdict, check_message, is_empty_or_friendly_emoji};
