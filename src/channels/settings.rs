//! The settings of a channel account, parsed from `channel_accounts.config`
//! into one typed struct per provider (unknown keys are errors, so a typo
//! is caught when the account is added). Secrets are never stored: the
//! config names the environment variable holding each one (`…_env`), read
//! at the moment of use, so rotating a secret needs no database change.
//! Every provider base URL is a setting, with the provider's real URL as
//! the default, so tests point accounts at local fakes.

use crate::domain::Provider;
use crate::domain::{EmailAddress, PhoneNumber};
use crate::secret::Secret;
use serde::Deserialize;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SettingsError {
    #[error("{provider} account settings: {reason}")]
    Invalid { provider: Provider, reason: String },
    #[error("environment variable {0} (named by the channel account's settings) is not set")]
    MissingSecret(String),
    #[error("{provider} address {address:?}: {reason}")]
    BadAddress { provider: Provider, address: String, reason: String },
}

/// The name of an environment variable that holds a secret.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct SecretEnv(String);

impl SecretEnv {
    /// Reads the secret now; an unset or empty variable is an error.
    pub fn read(&self) -> Result<Secret<String>, SettingsError> {
        match std::env::var(&self.0) {
            Ok(v) if !v.is_empty() => Ok(Secret::new(v)),
            _ => Err(SettingsError::MissingSecret(self.0.clone())),
        }
    }
}

fn twilio_base() -> String {
    super::twilio::outbound::DEFAULT_BASE_URL.to_string()
}
fn meta_base() -> String {
    "https://graph.facebook.com".to_string()
}
fn meta_version() -> String {
    "v21.0".to_string()
}
fn slack_base() -> String {
    "https://slack.com".to_string()
}
fn gmail_base() -> String {
    "https://gmail.googleapis.com".to_string()
}
fn gmail_token_url() -> String {
    "https://oauth2.googleapis.com/token".to_string()
}
fn google_certs_url() -> String {
    "https://www.googleapis.com/oauth2/v3/certs".to_string()
}
fn me() -> String {
    "me".to_string()
}
fn yes() -> bool {
    true
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwilioSettings {
    pub account_sid: String,
    pub auth_token_env: SecretEnv,
    #[serde(default = "twilio_base")]
    pub base_url: String,
    /// Where Twilio posts delivery statuses; default
    /// `{FTE_PUBLIC_URL}/webhooks/twilio/status`.
    #[serde(default)]
    pub status_callback_url: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetaTemplate {
    pub name: String,
    pub language: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetaSettings {
    pub app_secret_env: SecretEnv,
    pub verify_token_env: SecretEnv,
    pub access_token_env: SecretEnv,
    #[serde(default = "meta_base")]
    pub base_url: String,
    #[serde(default = "meta_version")]
    pub api_version: String,
    /// Sent instead of the reply when the customer's 24-hour window has
    /// closed; without one such a reply fails (and is flagged).
    #[serde(default)]
    pub template: Option<MetaTemplate>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackSettings {
    pub signing_secret_env: SecretEnv,
    pub bot_token_env: SecretEnv,
    #[serde(default = "slack_base")]
    pub base_url: String,
    /// The app's bot user (its mentions are stripped from messages).
    #[serde(default)]
    pub bot_user_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GmailSettings {
    pub client_id: String,
    pub client_secret_env: SecretEnv,
    pub refresh_token_env: SecretEnv,
    /// The `aud` of Pub/Sub's push tokens (the push endpoint's URL or a
    /// configured audience).
    pub push_audience: String,
    /// The service account Pub/Sub signs push tokens as.
    pub push_service_account: String,
    /// The Pub/Sub topic `users.watch` publishes to.
    #[serde(default)]
    pub topic_name: Option<String>,
    #[serde(default = "gmail_base")]
    pub base_url: String,
    #[serde(default = "gmail_token_url")]
    pub token_url: String,
    #[serde(default = "google_certs_url")]
    pub certs_url: String,
    #[serde(default = "me")]
    pub user_id: String,
    /// The display name replies are sent under.
    #[serde(default)]
    pub from_name: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebformSettings {
    /// Send replies by email too (through the tenant's Gmail account).
    #[serde(default = "yes")]
    pub reply_by_email: bool,
    /// Origins allowed to embed the widget (CORS); empty: same origin only.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccountSettings {
    Twilio(TwilioSettings),
    Meta(MetaSettings),
    Slack(SlackSettings),
    Gmail(GmailSettings),
    Webform(WebformSettings),
}

impl AccountSettings {
    pub fn parse(provider: Provider, config: &serde_json::Value) -> Result<Self, SettingsError> {
        fn typed<T: serde::de::DeserializeOwned>(
            provider: Provider,
            config: &serde_json::Value,
        ) -> Result<T, SettingsError> {
            T::deserialize(config).map_err(|e| SettingsError::Invalid { provider, reason: e.to_string() })
        }
        let settings = match provider {
            Provider::Twilio => Self::Twilio(typed(provider, config)?),
            Provider::Meta => Self::Meta(typed(provider, config)?),
            Provider::Slack => Self::Slack(typed(provider, config)?),
            Provider::Gmail => Self::Gmail(typed(provider, config)?),
            Provider::Webform => Self::Webform(typed(provider, config)?),
        };
        for url in settings.urls() {
            if !(url.starts_with("https://") || url.starts_with("http://")) || url.contains(char::is_whitespace) {
                return Err(SettingsError::Invalid { provider, reason: format!("{url:?} is not an http(s) URL") });
            }
        }
        Ok(settings)
    }

    fn urls(&self) -> Vec<&str> {
        match self {
            Self::Twilio(s) => {
                [Some(s.base_url.as_str()), s.status_callback_url.as_deref()].into_iter().flatten().collect()
            }
            Self::Meta(s) => vec![&s.base_url],
            Self::Slack(s) => vec![&s.base_url],
            Self::Gmail(s) => vec![&s.base_url, &s.token_url, &s.certs_url],
            Self::Webform(_) => vec![],
        }
    }
}

/// The canonical form of an account's address, so a webhook's value finds
/// it: E.164 for Twilio numbers, digits for Meta phone_number_ids, the
/// upper-case team id for Slack, the lower-case mailbox for Gmail, and a
/// URL-safe key for the web form.
pub fn normalize_address(provider: Provider, raw: &str) -> Result<String, SettingsError> {
    let bad = |reason: &str| SettingsError::BadAddress { provider, address: raw.to_string(), reason: reason.into() };
    let raw = raw.trim();
    match provider {
        Provider::Twilio => PhoneNumber::parse(raw.strip_prefix("whatsapp:").unwrap_or(raw))
            .map(|p| p.to_string())
            .map_err(|e| bad(&e.to_string())),
        Provider::Meta => {
            if !raw.is_empty() && raw.len() <= 32 && raw.bytes().all(|b| b.is_ascii_digit()) {
                Ok(raw.to_string())
            } else {
                Err(bad("a phone_number_id is digits"))
            }
        }
        Provider::Slack => {
            let up = raw.to_ascii_uppercase();
            if up.len() >= 2
                && up.len() <= 32
                && up.starts_with(['T', 'E'])
                && up.bytes().all(|b| b.is_ascii_alphanumeric())
            {
                Ok(up)
            } else {
                Err(bad("a Slack team id looks like T0123ABCD"))
            }
        }
        Provider::Gmail => EmailAddress::parse(raw).map(|e| e.to_string()).map_err(|e| bad(&e.to_string())),
        Provider::Webform => {
            if (4..=64).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                Ok(raw.to_string())
            } else {
                Err(bad("a widget key is 4-64 letters, digits, '-' or '_'"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn settings_parse_with_defaults_and_reject_unknown_keys() {
        let s = AccountSettings::parse(
            Provider::Twilio,
            &json!({"account_sid": "AC123", "auth_token_env": "TWILIO_AUTH_TOKEN"}),
        )
        .unwrap();
        let AccountSettings::Twilio(t) = s else { panic!("twilio") };
        assert_eq!(t.base_url, "https://api.twilio.com");
        let err = AccountSettings::parse(
            Provider::Twilio,
            &json!({"account_sid": "AC1", "auth_token_env": "X", "auth_tokn": "oops"}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("auth_tokn"), "{err}");
        assert!(AccountSettings::parse(Provider::Slack, &json!({"signing_secret_env": "A"})).is_err());
        let err = AccountSettings::parse(
            Provider::Slack,
            &json!({"signing_secret_env": "A", "bot_token_env": "B", "base_url": "ftp://x"}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("not an http"), "{err}");
        assert!(AccountSettings::parse(Provider::Webform, &json!({})).is_ok());
    }

    #[test]
    fn secrets_come_from_the_environment_or_fail_loudly() {
        let missing = SecretEnv("FTE_TEST_SURELY_UNSET_VARIABLE".into());
        assert_eq!(missing.read().unwrap_err(), SettingsError::MissingSecret("FTE_TEST_SURELY_UNSET_VARIABLE".into()));
        let path = SecretEnv("PATH".into());
        assert!(!path.read().unwrap().expose().is_empty());
    }

    #[test]
    fn addresses_are_normalized_per_provider() {
        assert_eq!(normalize_address(Provider::Twilio, "whatsapp:+31208084417").unwrap(), "+31208084417");
        assert_eq!(normalize_address(Provider::Slack, "t0abc").unwrap(), "T0ABC");
        assert_eq!(normalize_address(Provider::Gmail, "Support@Tallyloom.com").unwrap(), "support@tallyloom.com");
        assert_eq!(normalize_address(Provider::Meta, "1234567890").unwrap(), "1234567890");
        assert!(normalize_address(Provider::Meta, "12ab").is_err());
        assert!(normalize_address(Provider::Webform, "a b").is_err());
        assert!(normalize_address(Provider::Webform, "tallyloom-demo").is_ok());
    }
}
