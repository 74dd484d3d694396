//! Customer-success agent runtime ("digital FTE").
//!
//! Map of the modules (docs/architecture.md describes how they fit together):
//! - [`actors`]: the conversation actors, their supervisor and the routers
//!   that feed them (ractor).
//! - [`bus`]: the in-process bus (keyed, bounded partitions).
//! - [`pipeline`]: how a message moves from the HTTP edge to the actors
//!   (intake, the inbound publish, identity router, conversation consumer).
//! - [`delivery`]: how a committed reply moves from its outbox row to the
//!   provider (outbox relay, dispatcher and its senders).
//! - [`runtime`]: the conversation runtime wired together (supervisor,
//!   what feeds the actors, relay, sweeper, retention job).
//! - [`agent`]: the agent: tools, guardrails, the local and OpenAI-compatible
//!   brains, `format_for_channel`, per-tenant configuration.
//! - [`brain`]: the `Brain` trait the actors call for an agent turn.
//! - [`domain`]: newtypes parsed at the edge (ids, channels, email
//!   addresses, phone numbers, identifiers, providers); the topic names.
//! - [`crm`]: PostgreSQL as the CRM: tenants, customers, identity
//!   resolution across channels, channel accounts.
//! - [`conversation`]: the conversation state machine (pure) and its
//!   persistence.
//! - [`db`]: the pool, migrations, tenant-scoped transactions (RLS).
//! - [`kafka`]: the Kafka protocol: connection, envelopes, topics, the
//!   producer, group consumers, the broker probe.
//! - [`kb`]: the knowledge base: chunking, embedders, hybrid search.
//! - [`eval`]: the `eval` command: tickets through the live path, scored.
//! - [`http`]: the axum router: `/health`, `/ready`, `/live`, `/metrics`,
//!   provider webhooks under `/webhooks/…`, the support form under
//!   `/support`, the admin API under `/api/v1/…`, the console under `/admin`.
//! - [`app`]: wiring for the `serve` role and graceful shutdown.
//! - [`channels`]: one module per provider: wire formats, signatures,
//!   statuses, and the provider I/O that is not a reply's send (Gmail's
//!   tokens, keys, mailbox sync and watch; Slack profiles);
//!   `provider_http`, the one HTTP step of every provider call;
//!   channel-account settings, rate limits.
//! - [`auth`]: the admin API's keys and roles.
//! - [`metrics`]: Prometheus counters and histograms, `/metrics`.
//! - [`http_clients`]: the process's HTTP clients (provider APIs, model and
//!   embedding endpoints), built once per configuration and shared.
//! - [`probe`]: `fte probe`, the container image's HEALTHCHECK (one GET,
//!   exit status from the answer).
//! - [`bench`]: the load harness (`fte bench`).
//! - [`cli`]: subcommands and flags; [`config`]: settings; [`secret`]:
//!   values that never print; [`telemetry`]: logging.

pub mod actors;
pub mod agent;
pub mod app;
pub mod auth;
pub mod bench;
pub mod brain;
pub mod bus;
pub mod channels;
pub mod cli;
pub mod config;
pub mod conversation;
pub mod crm;
pub mod db;
pub mod delivery;
pub mod domain;
pub mod eval;
pub mod html_escape;
pub mod http;
pub mod http_clients;
pub mod kafka;
pub mod kb;
pub mod metrics;
pub mod pipeline;
pub mod probe;
pub mod runtime;
pub mod secret;
pub mod shutdown;
pub mod telemetry;
