//! Hard escalation rules, sentiment and the output filter (placeholder
//! being replaced in this change).
pub mod output_filter;
pub mod rules;
pub mod sentiment;
