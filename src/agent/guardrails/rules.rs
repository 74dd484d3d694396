//! Rules (temporary).
pub use crate::domain::EscalationReason as Reason;
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel { Email, WhatsApp, Slack, WebForm }
#[derive(Clone, Debug)]
pub struct RuleVerdict { pub reason: Option<Reason>, pub sentiment: f32, pub matched: Vec<&'static str> }
pub fn check_message(_c: Channel, _s: Option<&str>, t: &str) -> RuleVerdict {
    RuleVerdict { reason: None, sentiment: super::sentiment::score(t), matched: vec![] }
}
pub fn is_empty_or_friendly_emoji(t: &str) -> bool { t.trim().is_empty() }
