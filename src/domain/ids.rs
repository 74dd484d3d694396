//! Typed identifiers. They are UUIDs underneath; the types keep a tenant id
//! from being passed where a customer id is expected.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema)]
        #[serde(transparent)]
        #[sqlx(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new, time-ordered id (UUIDv7).
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            pub fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s.trim()).map(Self)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.0
            }
        }
    };
}

uuid_id!(
    /// A tenant: one company whose customers this runtime serves.
    TenantId
);
uuid_id!(
    /// One customer (a person), whatever channels they write on.
    CustomerId
);
uuid_id!(
    /// One conversation of a customer.
    ConversationId
);
uuid_id!(
    /// One stored message, inbound or outbound.
    MessageId
);
uuid_id!(
    /// One support ticket.
    TicketId
);
uuid_id!(
    /// One draft reply waiting for a human's approval.
    ApprovalId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_strings() {
        let id = CustomerId::new();
        let parsed: CustomerId = id.to_string().parse().unwrap();
        assert_eq!(id, parsed);
        assert!("not-a-uuid".parse::<TenantId>().is_err());
    }

    #[test]
    fn new_ids_are_time_ordered() {
        let a = ConversationId::new();
        let b = ConversationId::new();
        assert!(a < b);
    }
}
