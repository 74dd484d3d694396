//! Roles of the admin API, ordered: viewer < agent < supervisor < admin.
//! A route names the least role it needs; every higher role may call it.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads everything of its tenant.
    Viewer,
    /// A support agent: claims escalations, replies, approves drafts.
    Agent,
    /// Steers the runtime: passivates and restarts actors, merges customers.
    Supervisor,
    /// Manages tenants, keys, channel accounts and agent configuration.
    Admin,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown role {0:?} (expected viewer, agent, supervisor or admin)")]
pub struct ParseRoleError(pub String);

impl Role {
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Agent, Role::Supervisor, Role::Admin];

    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Agent => "agent",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = ParseRoleError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|r| r.as_str() == s.trim()).ok_or_else(|| ParseRoleError(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_round_trip() {
        assert!(Role::Viewer < Role::Agent && Role::Agent < Role::Supervisor && Role::Supervisor < Role::Admin);
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
        }
        assert!("root".parse::<Role>().is_err());
    }
}
