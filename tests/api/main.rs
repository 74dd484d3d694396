//! The integration test suite: one test binary (cargo's test target `api`)
//! instead of one per file, so the dependency tree is linked once. The tests
//! run against the real PostgreSQL and broker (`make test`, which sources
//! `.dev/env`), many of them through the `fte` binary of the same build.
//!
//! Each area is a module here, in a file of its own (`tests/api/<area>.rs`,
//! its `//!` header says what it checks), so test names read
//! `<area>::<test>`: run one area with
//! `cargo nextest run -E 'test(/^kafka_pipeline::/)'`. `common` is the
//! shared support (a database per test, the app and its roles as processes,
//! fake providers, the browser); the Python clients the tests call are in
//! `tests/clients/`, fixtures in `tests/fixtures/`.

mod common;

mod account_cache;
mod admin_api;
mod admin_console;
mod admin_kb;
mod admin_matrix;
mod admin_session;
mod admin_tenants;
mod admin_workflow;
mod agent_eval;
mod agent_local;
mod agent_openai;
mod api_without_database;
mod bench_baseline;
mod bench_harness;
mod channels_gmail;
mod channels_kafka;
mod channels_meta;
mod channels_slack;
mod channels_twilio;
mod channels_webform;
mod chaos;
mod crash_recovery;
mod delivery;
mod dispatch_find_sent;
mod gdpr;
mod identity;
mod inject_api;
mod intake;
mod k8s_manifests;
mod kafka;
mod kafka_broker_restart;
mod kafka_failover;
mod kafka_pipeline;
mod kafka_tls;
mod kb;
mod metrics;
mod module_cycles;
mod openapi_schemathesis;
mod per_turn_queries;
mod pg_tls;
mod pii_logs;
mod retention;
mod router;
mod runtime;
mod schema;
mod serve;
mod tenant_isolation;
mod webform_browser;
