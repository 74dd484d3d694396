//! The channels a customer can write on. The names here are the ones used in
//! the database (`messages.channel`, `conversations.initial_channel`) and in
//! Kafka topic names (`fte.channels.<name>.inbound`).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    Whatsapp,
    Slack,
    Webform,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown channel {0:?} (expected email, whatsapp, slack or webform)")]
pub struct ParseChannelError(pub String);

impl Channel {
    pub const ALL: [Channel; 4] = [Channel::Email, Channel::Whatsapp, Channel::Slack, Channel::Webform];

    pub fn as_str(&self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Whatsapp => "whatsapp",
            Channel::Slack => "slack",
            Channel::Webform => "webform",
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Channel {
    type Err = ParseChannelError;

    /// Accepts the canonical names and the spellings found in source data
    /// (`web_form`, `gmail`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "email" | "gmail" => Ok(Channel::Email),
            "whatsapp" => Ok(Channel::Whatsapp),
            "slack" => Ok(Channel::Slack),
            "webform" | "web_form" | "web-form" => Ok(Channel::Webform),
            _ => Err(ParseChannelError(s.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names_round_trip() {
        for c in Channel::ALL {
            assert_eq!(c.as_str().parse::<Channel>().unwrap(), c);
        }
        assert_eq!("web_form".parse::<Channel>().unwrap(), Channel::Webform);
        assert!("fax".parse::<Channel>().is_err());
    }
}
