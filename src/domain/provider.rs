//! The providers a channel account can be with, and the channel each one
//! carries. The names are the ones in `channel_accounts.provider` and in
//! the webhook paths (`/webhooks/<provider>/…`).

use super::Channel;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// WhatsApp through Twilio's Messages API.
    Twilio,
    /// WhatsApp through Meta's Cloud API.
    Meta,
    Slack,
    Gmail,
    /// The hosted support form and its widget.
    Webform,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown provider {0:?} (expected twilio, meta, slack, gmail or webform)")]
pub struct ParseProviderError(pub String);

impl Provider {
    pub const ALL: [Provider; 5] = [Self::Twilio, Self::Meta, Self::Slack, Self::Gmail, Self::Webform];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Twilio => "twilio",
            Self::Meta => "meta",
            Self::Slack => "slack",
            Self::Gmail => "gmail",
            Self::Webform => "webform",
        }
    }

    pub fn channel(&self) -> Channel {
        match self {
            Self::Twilio | Self::Meta => Channel::Whatsapp,
            Self::Slack => Channel::Slack,
            Self::Gmail => Channel::Email,
            Self::Webform => Channel::Webform,
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Provider {
    type Err = ParseProviderError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|p| p.as_str() == s.trim()).ok_or_else(|| ParseProviderError(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_channels_match() {
        for p in Provider::ALL {
            assert_eq!(p.as_str().parse::<Provider>().unwrap(), p);
        }
        assert_eq!(Provider::Meta.channel(), Channel::Whatsapp);
        assert!("telegram".parse::<Provider>().is_err());
    }
}
