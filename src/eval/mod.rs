//! `fte eval`: runs a tickets file through the same path a live message
//! takes (identity resolution, the conversation actor, the agent brain,
//! `format_for_channel`, the turn's commit) against a fresh database, in
//! file order, and scores what happened against each ticket's
//! expectations. Each message carries only what its channel carries
//! (`tickets`); a Slack message's email and name come from the Slack
//! profile read, served by an in-process `users.info` (`slack_api`).
//! Prints one line per ticket, a summary, a per-channel table and the
//! confidence's reliability diagram (`calibration`); with `--json` the last
//! line is one JSON object with the figures. `--retrieval` measures
//! retrieval alone (`retrieval`).

pub mod calibration;
pub mod report;
pub mod retrieval;
pub mod slack_api;
pub mod tickets;

use crate::agent::AgentBrain;
use crate::agent::config::AgentConfig;
use crate::agent::settings::build_embedder;
use crate::channels::slack::{BotToken, SlackProfiles, SlackProfilesConfig};
use crate::config::DatabaseSettings;
use crate::crm::{self, MergePolicy, NewTenant};
use crate::db::{self, begin_tenant};
use crate::domain::{MessageId, TenantId};
use crate::kb::{self, Embedder};
use crate::runtime::{Runtime, RuntimeConfig};
use report::{Got, Outcome, Report};
use sqlx::PgPool;
use sqlx::postgres::PgConnectOptions;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    #[command(flatten)]
    pub database: DatabaseSettings,
    /// Tickets file (JSON list, the format of sample-tickets.json).
    #[arg(long)]
    pub tickets: PathBuf,
    /// Directory of knowledge-base articles (markdown).
    #[arg(long)]
    pub kb: PathBuf,
    /// End with one JSON object holding the figures.
    #[arg(long)]
    pub json: bool,
    /// Keep the scratch database (its name is printed) instead of dropping it.
    #[arg(long)]
    pub keep_db: bool,
    /// Measure retrieval alone (retrieval@1 per ranker, time per query)
    /// instead of running the tickets through the agent.
    #[arg(long)]
    pub retrieval: bool,
    #[command(flatten)]
    pub embedder: crate::config::EmbedderSettings,
}

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error(transparent)]
    Tickets(#[from] tickets::TicketError),
    #[error(transparent)]
    Kb(#[from] kb::KbError),
    #[error("database: {0}")]
    Db(String),
    #[error("runtime: {0}")]
    Runtime(String),
}

fn db_err(e: impl std::fmt::Display) -> EvalError {
    EvalError::Db(e.to_string())
}

/// Runs the eval and returns the report (printing happens in the caller).
pub async fn run(args: &EvalArgs) -> Result<Report, EvalError> {
    let tickets = tickets::load(&args.tickets)?;
    let articles = kb::read_articles(&args.kb)?;
    let admin = db::connect(&args.database).await.map_err(db_err)?;
    let name = format!("fte_eval_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&admin)
        .await
        .map_err(|e| EvalError::Db(format!("cannot create the scratch database (the role needs CREATEDB): {e}")))?;
    let result = run_in(args, &name, &tickets, &articles).await;
    if args.keep_db {
        eprintln!("eval database kept: {name}");
    } else if let Err(e) =
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).execute(&admin).await
    {
        tracing::warn!(database = %name, error = %e, "could not drop the eval database");
    }
    result
}

async fn run_in(
    args: &EvalArgs,
    name: &str,
    tickets: &[tickets::Ticket],
    articles: &[kb::Article],
) -> Result<Report, EvalError> {
    let options = PgConnectOptions::from_str(args.database.database_url.expose()).map_err(db_err)?.database(name);
    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(10).connect_with(options).await.map_err(db_err)?;
    db::migrate(&pool).await.map_err(db_err)?;
    let tenant = crm::create_tenant(
        &pool,
        &NewTenant { slug: "eval".into(), name: "Eval".into(), merge_policy: MergePolicy::Auto },
    )
    .await
    .map_err(db_err)?;
    let embedder: Arc<dyn Embedder> = build_embedder(&args.embedder).map_err(|e| EvalError::Runtime(e.to_string()))?;
    kb::ingest(&pool, tenant.id, embedder.as_ref(), articles).await?;
    let config = AgentConfig::load(&pool, tenant.id).await.map_err(db_err)?;
    let brain = Arc::new(AgentBrain::new(pool.clone(), embedder, Arc::new(kb::KbSearch::new())));
    let slack = slack_api::SlackApi::start(tickets).await?;
    let token = BotToken::new(slack_api::TOKEN).map_err(|e| EvalError::Runtime(e.to_string()))?;
    let profiles = SlackProfiles::for_one_api(SlackProfilesConfig::default(), &slack.base_url, token);
    let runtime_config = RuntimeConfig { slack_profiles: Arc::new(profiles), ..RuntimeConfig::default() };
    let runtime =
        Runtime::start(pool.clone(), brain, runtime_config).await.map_err(|e| EvalError::Runtime(e.to_string()))?;

    let mut outcomes = Vec::new();
    for ticket in tickets {
        let inbound = ticket.inbound(tenant.id)?;
        let started = Instant::now();
        let receipt = runtime.submit(inbound).await.map_err(|e| EvalError::Runtime(e.to_string()))?;
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        let got = observe(&pool, tenant.id, receipt.message_id).await.map_err(db_err)?;
        outcomes.push(Outcome { ticket: ticket.clone(), got, latency_ms });
    }
    runtime.shutdown().await;
    tracing::info!(reads = slack.reads(), "eval's Slack API answered users.info");
    slack.stop();
    pool.close().await;
    Ok(Report::score(outcomes, &config))
}

/// What the runtime did with one message, read back from the database.
async fn observe(pool: &PgPool, tenant: TenantId, message: MessageId) -> Result<Got, sqlx::Error> {
    let mut tx = begin_tenant(pool, tenant).await?;
    let customer: uuid::Uuid =
        sqlx::query_scalar("SELECT customer_id FROM messages WHERE id = $1").bind(message).fetch_one(&mut *tx).await?;
    type TurnRow = (String, Option<String>, Vec<String>, Option<i64>, f32);
    let turn: Option<TurnRow> = sqlx::query_as(
        "SELECT a.decision, a.reason, a.sources, t.number, a.confidence
           FROM agent_turns a LEFT JOIN tickets t ON t.id = a.ticket_id WHERE a.inbound_message = $1",
    )
    .bind(message)
    .fetch_optional(&mut *tx)
    .await?;
    let reply: Option<String> = sqlx::query_scalar(
        "SELECT body FROM messages WHERE in_reply_to = $1 AND direction = 'outbound' ORDER BY created_at LIMIT 1",
    )
    .bind(message)
    .fetch_optional(&mut *tx)
    .await?;
    let draft: Option<String> = sqlx::query_scalar("SELECT draft FROM approvals WHERE inbound_message = $1")
        .bind(message)
        .fetch_optional(&mut *tx)
        .await?;
    // No agent turn: the conversation was already with humans (the
    // message was forwarded to the open escalation).
    let open_escalation: Option<String> = sqlx::query_scalar(
        "SELECT e.reason FROM escalations e JOIN messages m ON m.conversation_id = e.conversation_id
          WHERE m.id = $1 AND e.status <> 'resolved' ORDER BY e.created_at DESC LIMIT 1",
    )
    .bind(message)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(match turn {
        Some((decision, reason, sources, ticket, confidence)) => Got {
            customer,
            action: decision,
            reason,
            sources,
            reply,
            draft,
            ticket_ref: ticket.map(|n| format!("TKT-{n}")),
            confidence: Some(confidence),
        },
        None => Got {
            customer,
            action: if open_escalation.is_some() { "escalate".into() } else { "forwarded".into() },
            reason: open_escalation,
            sources: Vec::new(),
            reply,
            draft,
            ticket_ref: None,
            confidence: None,
        },
    })
}
