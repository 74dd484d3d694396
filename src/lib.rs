//! Customer-success agent runtime ("digital FTE").
//!
//! Map of the modules (see DESIGN.md for the architecture):
//! - [`domain`]: newtypes parsed at the edge (ids, channels, email
//!   addresses, phone numbers, identifiers).
//! - [`crm`]: PostgreSQL as the CRM: tenants, customers, identity
//!   resolution across channels.
//! - [`db`]: the pool, migrations, tenant-scoped transactions (RLS).
//! - [`kafka`]: broker connectivity (health now; the pipeline in #4).
//! - [`http`]: the axum router: `/health`, `/ready`.
//! - [`app`]: wiring for the `serve` role and graceful shutdown.
//! - [`cli`]: subcommands and flags; [`config`]: settings; [`secret`]:
//!   values that never print; [`telemetry`]: logging.

pub mod app;
pub mod cli;
pub mod config;
pub mod crm;
pub mod db;
pub mod domain;
pub mod http;
pub mod kafka;
pub mod secret;
pub mod shutdown;
pub mod telemetry;
