//! Per-tenant agent configuration: who the assistant is,
//! how it signs, the approval threshold, which brains run in which order,
//! the OpenAI-compatible endpoints and the monthly budget. Stored as JSON
//! under `tenants.settings -> 'agent'`; every field has a default (the
//! sample company's), so an empty object is a valid configuration. API keys
//! are never stored: a model endpoint names the environment variable that
//! holds its key.

use crate::db::begin_tenant;
use crate::domain::TenantId;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AgentConfig {
    pub assistant_name: String,
    pub company: String,
    /// The assistant's role line in the email signature.
    pub role: String,
    /// How the assistant describes itself to a model (system prompt).
    pub persona: String,
    pub support_email: String,
    pub help_portal: String,
    /// Said in holding replies when the customer's plan SLA is unknown.
    pub support_hours: String,
    /// Replies with a lower confidence go to the human approval queue.
    pub approval_threshold: f32,
    /// The brains to try, in order; `local` always ends the chain.
    pub brains: Vec<BrainName>,
    pub primary_model: Option<ModelEndpoint>,
    pub secondary_model: Option<ModelEndpoint>,
    /// Spending limit per calendar month (UTC); past it the local brain
    /// answers and an alert is raised.
    pub monthly_budget_usd: Option<f64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BrainName {
    Primary,
    Secondary,
    Local,
}

/// An OpenAI-compatible chat endpoint (OpenAI, Ollama, vLLM, LiteLLM).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelEndpoint {
    pub base_url: String,
    pub model: String,
    /// Name of the environment variable holding the API key (none for
    /// servers without authentication).
    #[serde(default)]
    pub api_key_env: Option<String>,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    #[serde(default = "default_max_tool_rounds")]
    pub max_tool_rounds: u32,
    /// USD per million prompt / completion tokens, for cost estimates.
    #[serde(default)]
    pub prompt_usd_per_mtok: f64,
    #[serde(default)]
    pub completion_usd_per_mtok: f64,
}

fn default_timeout_ms() -> u64 {
    20_000
}

fn default_max_tool_rounds() -> u32 {
    4
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            assistant_name: "Robin".into(),
            company: "Tallyloom".into(),
            role: "AI Support Assistant".into(),
            persona: "a capable colleague: calm, precise and warm, never chirpy or robotic".into(),
            support_email: "support@tallyloom.com".into(),
            help_portal: "help.tallyloom.com".into(),
            support_hours: "Monday to Friday, 08:00–20:00 CET".into(),
            approval_threshold: 0.65,
            brains: vec![BrainName::Local],
            primary_model: None,
            secondary_model: None,
            monthly_budget_usd: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("agent configuration is invalid: {0}")]
    Invalid(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl AgentConfig {
    pub fn email_signature(&self) -> String {
        format!(
            "Kind regards,\n{}\n{}, {} Customer Success\n{} · {}",
            self.assistant_name, self.role, self.company, self.support_email, self.help_portal
        )
    }

    /// The help portal line web-form replies end with.
    pub fn help_portal_line(&self) -> String {
        format!("More answers any time at https://{}", self.help_portal.trim_start_matches("https://"))
    }

    pub fn webform_signoff(&self) -> String {
        format!("Best regards,\n{} · {} Support (AI assistant)", self.assistant_name, self.company)
    }

    /// Parses and checks a configuration document.
    pub fn from_json(value: serde_json::Value) -> Result<Self, ConfigError> {
        let config: Self = serde_json::from_value(value).map_err(|e| ConfigError::Invalid(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(m.to_string()));
        if !(0.0..=1.0).contains(&self.approval_threshold) {
            return bad("approval_threshold must be between 0 and 1");
        }
        if self.assistant_name.trim().is_empty() || self.company.trim().is_empty() {
            return bad("assistant_name and company must not be empty");
        }
        if self.brains.contains(&BrainName::Primary) && self.primary_model.is_none() {
            return bad("brains lists primary but primary_model is not set");
        }
        if self.brains.contains(&BrainName::Secondary) && self.secondary_model.is_none() {
            return bad("brains lists secondary but secondary_model is not set");
        }
        if self.monthly_budget_usd.is_some_and(|b| b.is_nan() || b < 0.0) {
            return bad("monthly_budget_usd must be zero or more");
        }
        for m in [&self.primary_model, &self.secondary_model].into_iter().flatten() {
            if !(m.base_url.starts_with("http://") || m.base_url.starts_with("https://")) {
                return bad("a model base_url must be an http(s) URL");
            }
            if m.timeout_ms == 0 || m.max_tool_rounds == 0 {
                return bad("timeout_ms and max_tool_rounds must be positive");
            }
        }
        Ok(())
    }

    /// The tenant's configuration (defaults where unset).
    pub async fn load(pool: &PgPool, tenant: TenantId) -> Result<Self, ConfigError> {
        let mut tx = begin_tenant(pool, tenant).await?;
        let value: Option<serde_json::Value> =
            sqlx::query_scalar("SELECT settings -> 'agent' FROM tenants WHERE id = $1")
                .bind(tenant)
                .fetch_optional(&mut *tx)
                .await?
                .flatten();
        tx.commit().await?;
        match value {
            None | Some(serde_json::Value::Null) => Ok(Self::default()),
            Some(v) => Self::from_json(v),
        }
    }

    /// Validates and stores the tenant's configuration.
    pub async fn store(&self, pool: &PgPool, tenant: TenantId) -> Result<(), ConfigError> {
        self.validate()?;
        let value = serde_json::to_value(self).map_err(|e| ConfigError::Invalid(e.to_string()))?;
        let mut tx = begin_tenant(pool, tenant).await?;
        sqlx::query(
            "UPDATE tenants SET settings = jsonb_set(settings, '{agent}', $2), updated_at = now() WHERE id = $1",
        )
        .bind(tenant)
        .bind(value)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_document_is_the_default() {
        assert_eq!(AgentConfig::from_json(serde_json::json!({})).unwrap(), AgentConfig::default());
    }

    #[test]
    fn rejects_unknown_fields_and_bad_values() {
        assert!(AgentConfig::from_json(serde_json::json!({ "assistant": "x" })).is_err());
        assert!(AgentConfig::from_json(serde_json::json!({ "approval_threshold": 1.5 })).is_err());
        assert!(AgentConfig::from_json(serde_json::json!({ "brains": ["primary", "local"] })).is_err());
        let ok = serde_json::json!({
            "brains": ["primary", "local"],
            "primary_model": { "base_url": "http://127.0.0.1:1/v1", "model": "m" }
        });
        assert_eq!(AgentConfig::from_json(ok).unwrap().primary_model.unwrap().max_tool_rounds, 4);
    }
}
