//! Authentication and authorization of the admin API (DESIGN.md
//! §7): API keys stored hashed, each with a role (viewer < agent <
//! supervisor < admin) and a tenant (admins may be global). `key` makes and
//! checks tokens, `store` keeps keys in PostgreSQL, `role` orders roles,
//! `session` keeps the console's sign-in sessions (a cookie standing for a key).

pub mod key;
pub mod role;
pub mod session;
pub mod store;

pub use role::Role;
pub use store::{AuthError, Caller, authenticate, create_key};
