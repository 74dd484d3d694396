//! Why a conversation went to humans: the seven reasons of the escalation
//! rules (in their priority order) plus `processing_failure`, for a message
//! the runtime could not handle after its retries. The names are the ones
//! stored in `escalations.reason`; they are internal and never shown to
//! customers.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EscalationReason {
    LegalInquiry,
    ComplianceInquiry,
    RefundRequest,
    PricingInquiry,
    HumanRequested,
    NegativeSentiment,
    NoKnowledge,
    ProcessingFailure,
}

impl EscalationReason {
    /// In priority order: when several apply, the first one wins.
    pub const ALL: [EscalationReason; 8] = [
        EscalationReason::LegalInquiry,
        EscalationReason::ComplianceInquiry,
        EscalationReason::RefundRequest,
        EscalationReason::PricingInquiry,
        EscalationReason::HumanRequested,
        EscalationReason::NegativeSentiment,
        EscalationReason::NoKnowledge,
        EscalationReason::ProcessingFailure,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            EscalationReason::LegalInquiry => "legal_inquiry",
            EscalationReason::ComplianceInquiry => "compliance_inquiry",
            EscalationReason::RefundRequest => "refund_request",
            EscalationReason::PricingInquiry => "pricing_inquiry",
            EscalationReason::HumanRequested => "human_requested",
            EscalationReason::NegativeSentiment => "negative_sentiment",
            EscalationReason::NoKnowledge => "no_knowledge",
            EscalationReason::ProcessingFailure => "processing_failure",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl fmt::Display for EscalationReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
