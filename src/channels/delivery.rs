//! The delivery states of an outbound message, as every channel reports
//! them: the outbound values of `messages.delivery_status`. Each adapter
//! maps its provider's statuses onto these; the store applies a status
//! only if it moves the row forward (`supersedes`), since callbacks arrive
//! out of order.

use std::fmt;
use std::str::FromStr;

/// The outbound values of `messages.delivery_status` (the column also has
/// `pending`, set before the send, and `received`, for inbound rows).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeliveryStatus {
    Queued,
    Sent,
    Delivered,
    Read,
    Failed,
    Undelivered,
}

impl DeliveryStatus {
    pub const ALL: [DeliveryStatus; 6] =
        [Self::Queued, Self::Sent, Self::Delivered, Self::Read, Self::Failed, Self::Undelivered];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Read => "read",
            Self::Failed => "failed",
            Self::Undelivered => "undelivered",
        }
    }

    /// How far along the message is. Callbacks can arrive out of order, so
    /// a store should apply one only if it moves the row forward
    /// (`supersedes`): `queued` < `sent` < `delivered` = `failed` =
    /// `undelivered` < `read`. A read receipt wins over everything, being
    /// proof of delivery.
    fn rank(&self) -> u8 {
        match self {
            Self::Queued => 0,
            Self::Sent => 1,
            Self::Delivered | Self::Failed | Self::Undelivered => 2,
            Self::Read => 3,
        }
    }

    /// Whether this status should replace `current` (see `rank`).
    pub fn supersedes(&self, current: DeliveryStatus) -> bool {
        self.rank() > current.rank()
    }
}

impl FromStr for DeliveryStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|d| d.as_str() == s).ok_or_else(|| format!("unknown delivery status {s:?}"))
    }
}

impl fmt::Display for DeliveryStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
