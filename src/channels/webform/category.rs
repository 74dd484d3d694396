//! The fixed list of request categories the web form offers (the `category`
//! field, stored as `tickets.category` and in the inbound message's
//! metadata). Owns `Category`.
//!
//! The list was chosen from the web-form tickets in
//! `shared/context/sample-tickets.json` (which carry no category of their
//! own) and the product docs they point to:
//!
//! | id                 | label shown                        | sample tickets            |
//! |--------------------|------------------------------------|---------------------------|
//! | `general`          | General question                   | T002, T013, T019          |
//! | `technical`        | Something isn't working            | T001, T014                |
//! | `billing`          | Billing, plans and invoices        | T015, T050                |
//! | `account`          | Account, users and sign-in         | T017, T060                |
//! | `integrations`     | Integrations and API               | T041, T045                |
//! | `security_privacy` | Security, privacy and compliance   | T036, T056                |
//! | `feature_request`  | Feature request                    | T057                      |
//! | `feedback`         | Feedback or complaint              | T016                      |
//!
//! "Something isn't working" rather than "bug report": the brand voice
//! avoids calling anything a bug before it is confirmed. The category is a
//! hint for routing and reporting only; escalation rules still read the
//! message itself. `widget.js` carries the same ids and labels (a test
//! checks that the ids match).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    General,
    Technical,
    Billing,
    Account,
    Integrations,
    SecurityPrivacy,
    FeatureRequest,
    Feedback,
}

/// A `category` value that is not one of [`Category::ALL`].
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown web form category {0:?}")]
pub struct UnknownCategory(pub String);

impl Category {
    /// In the order the form lists them.
    pub const ALL: [Category; 8] = [
        Self::General,
        Self::Technical,
        Self::Billing,
        Self::Account,
        Self::Integrations,
        Self::SecurityPrivacy,
        Self::FeatureRequest,
        Self::Feedback,
    ];

    /// The wire and database name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::General => "general",
            Self::Technical => "technical",
            Self::Billing => "billing",
            Self::Account => "account",
            Self::Integrations => "integrations",
            Self::SecurityPrivacy => "security_privacy",
            Self::FeatureRequest => "feature_request",
            Self::Feedback => "feedback",
        }
    }

    /// The label the form shows (English), also useful in agent prompts.
    pub fn label(&self) -> &'static str {
        match self {
            Self::General => "General question",
            Self::Technical => "Something isn't working",
            Self::Billing => "Billing, plans and invoices",
            Self::Account => "Account, users and sign-in",
            Self::Integrations => "Integrations and API",
            Self::SecurityPrivacy => "Security, privacy and compliance",
            Self::FeatureRequest => "Feature request",
            Self::Feedback => "Feedback or complaint",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Category {
    type Err = UnknownCategory;

    /// Exact ids only (the form sends them verbatim).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|c| c.as_str() == s).ok_or_else(|| UnknownCategory(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_are_unique() {
        for c in Category::ALL {
            assert_eq!(c.as_str().parse::<Category>(), Ok(c));
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
            assert_eq!(Category::ALL.iter().filter(|o| o.as_str() == c.as_str()).count(), 1);
            assert!(!c.label().is_empty());
        }
    }

    #[test]
    fn other_spellings_are_rejected() {
        for raw in ["", "Billing", " billing", "bug_report", "security-privacy", "other"] {
            assert_eq!(raw.parse::<Category>(), Err(UnknownCategory(raw.to_string())), "{raw:?}");
        }
    }
}
