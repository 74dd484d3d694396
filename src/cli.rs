//! The command line: one binary, a subcommand per role. Every flag can also
//! be given through the environment variable named in `--help`.

use crate::agent::settings::build_embedder;
use crate::app::{self, Role, StartupError};
use crate::config::{DatabaseSettings, EmbedderSettings, LogFormat, ServeSettings};
use crate::crm::{self, MergePolicy, NewTenant};
use crate::db;
use crate::domain::{CustomerId, TenantId};
use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(name = "fte", version, about = "Customer-success agent runtime")]
pub struct Cli {
    /// Log format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Auto, global = true)]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every role in one process: HTTP API and health endpoints (more
    /// roles arrive with the actor runtime and the Kafka pipeline).
    Serve(ServeSettings),
    /// HTTP ingress only (needs Kafka): webhooks and the inject route
    /// publish to the inbound topics.
    Api(ServeSettings),
    /// Identity router, conversation actors and outbox relay (needs Kafka);
    /// any number of workers share the actors through one consumer group.
    Worker(ServeSettings),
    /// Outbound topics to the channel providers (needs Kafka).
    Dispatcher(ServeSettings),
    /// Apply pending database migrations and exit.
    Migrate(DatabaseSettings),
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// A person's data: export it, or erase it.
    #[command(subcommand)]
    Customer(CustomerCommand),
    /// Manage the knowledge base.
    #[command(subcommand)]
    Kb(KbCommand),
    /// Manage channel accounts (which tenant owns each provider account).
    #[command(subcommand)]
    Channel(ChannelCommand),
    /// Manage admin API keys.
    #[command(subcommand)]
    Apikey(ApiKeyCommand),
    /// Token use and estimated cost of a tenant's agent turns (one JSON
    /// document): total, per brain, and the costliest conversations.
    Usage {
        #[command(flatten)]
        database: DatabaseSettings,
        #[arg(long, env = "FTE_TENANT_ID")]
        tenant: uuid::Uuid,
        /// Start of the period (RFC 3339); default: the start of this month (UTC).
        #[arg(long)]
        since: Option<chrono::DateTime<chrono::Utc>>,
        /// End of the period (RFC 3339, exclusive); default: now.
        #[arg(long)]
        until: Option<chrono::DateTime<chrono::Utc>>,
        /// How many conversations to list.
        #[arg(long, default_value_t = 20)]
        top: i64,
    },
    /// Run a tickets file through the live path against a fresh database
    /// and score the agent.
    Eval(crate::eval::EvalArgs),
    /// One HTTP GET against a running process on this host (default: its
    /// `/ready` on `HTTP_ADDR`); exits 0 on a 2xx answer, 1 otherwise. For
    /// the container image's HEALTHCHECK, which has no curl.
    Probe(crate::probe::ProbeArgs),
    /// Load-test a worker of this binary on the real broker and PostgreSQL,
    /// next to the machine's own ceilings; writes report.json and
    /// report.html (see `make bench`).
    Bench(crate::bench::BenchArgs),
}

#[derive(Debug, Subcommand)]
pub enum KbCommand {
    /// Ingest a directory of markdown articles for a tenant (idempotent:
    /// unchanged sections are kept, removed ones deleted).
    Ingest {
        #[command(flatten)]
        database: DatabaseSettings,
        /// The tenant's id (as printed by `tenant create`).
        #[arg(long, env = "FTE_TENANT_ID")]
        tenant: uuid::Uuid,
        #[command(flatten)]
        embedder: EmbedderSettings,
        /// Directory of `.md` articles.
        dir: std::path::PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create a key; prints it once, as one JSON line (only its hash is
    /// stored). Without --tenant the key is global and must be an admin's:
    /// the first key of an installation.
    Create {
        #[command(flatten)]
        database: DatabaseSettings,
        #[arg(long, env = "FTE_TENANT_ID")]
        tenant: Option<uuid::Uuid>,
        /// viewer, agent, supervisor or admin.
        #[arg(long)]
        role: crate::auth::Role,
        /// Who or what holds the key (shown in the audit log).
        #[arg(long)]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ChannelCommand {
    /// Give a provider account to a tenant, or replace its settings;
    /// prints the account as one JSON line. The settings name environment
    /// variables for secrets (docs/channels.md).
    Add {
        #[command(flatten)]
        database: DatabaseSettings,
        #[arg(long, env = "FTE_TENANT_ID")]
        tenant: uuid::Uuid,
        /// twilio, meta, slack, gmail or webform.
        #[arg(long)]
        provider: crate::domain::Provider,
        /// The account's address at the provider: the WhatsApp number
        /// (twilio), the phone_number_id (meta), the team_id (slack), the
        /// mailbox (gmail), the widget key (webform).
        #[arg(long)]
        address: String,
        /// Provider settings as a JSON object.
        #[arg(long, default_value = "{}")]
        config: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum CustomerCommand {
    /// Print everything held about a customer as one JSON document.
    Export {
        #[command(flatten)]
        database: DatabaseSettings,
        #[arg(long, env = "FTE_TENANT_ID")]
        tenant: uuid::Uuid,
        #[arg(long)]
        customer: uuid::Uuid,
    },
    /// Erase a customer's personal data from every table (audited as `cli`).
    Erase {
        #[command(flatten)]
        database: DatabaseSettings,
        #[arg(long, env = "FTE_TENANT_ID")]
        tenant: uuid::Uuid,
        #[arg(long)]
        customer: uuid::Uuid,
        /// Why; kept in the audit log, so no personal data.
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant; prints it as one JSON line (with its id).
    Create {
        #[command(flatten)]
        database: DatabaseSettings,
        /// Short name: lowercase letters, digits and dashes.
        #[arg(long)]
        slug: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// What to do when a message's identifiers match two customers.
        #[arg(long, value_enum, default_value_t = MergePolicyArg::Manual)]
        merge_policy: MergePolicyArg,
    },
    /// Create the tenant with this slug unless `tenant ensure` made it
    /// before (its id is derived from the slug); prints it as one JSON line.
    Ensure {
        #[command(flatten)]
        database: DatabaseSettings,
        #[arg(long)]
        slug: String,
        #[arg(long)]
        name: String,
        #[arg(long, value_enum, default_value_t = MergePolicyArg::Manual)]
        merge_policy: MergePolicyArg,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum MergePolicyArg {
    /// Record a merge candidate for a human.
    Manual,
    /// Merge at once (still recorded).
    Auto,
}

impl From<MergePolicyArg> for MergePolicy {
    fn from(arg: MergePolicyArg) -> Self {
        match arg {
            MergePolicyArg::Manual => MergePolicy::Manual,
            MergePolicyArg::Auto => MergePolicy::Auto,
        }
    }
}

pub async fn run(cli: Cli) -> Result<(), StartupError> {
    match cli.command {
        Command::Serve(settings) => app::serve(settings, Role::All).await,
        Command::Api(settings) => app::serve(settings, Role::Api).await,
        Command::Worker(settings) => app::serve(settings, Role::Worker).await,
        Command::Dispatcher(settings) => app::serve(settings, Role::Dispatcher).await,
        Command::Migrate(settings) => migrate(&settings).await,
        Command::Kb(command) => kb(command).await,
        Command::Channel(command) => channel(command).await,
        Command::Apikey(command) => apikey(command).await,
        Command::Usage { database, tenant, since, until, top } => usage(&database, tenant, since, until, top).await,
        Command::Probe(args) => probe(&args).await,
        Command::Bench(args) => bench(args).await,
        Command::Eval(args) => eval(&args).await,
        Command::Tenant(command) => tenant(command).await,
        Command::Customer(command) => customer(command).await,
    }
}

/// `fte migrate`.
async fn migrate(settings: &DatabaseSettings) -> Result<(), StartupError> {
    let pool = db::connect(settings).await?;
    db::migrate(&pool).await?;
    tracing::info!(applied = db::MIGRATOR.iter().count(), "migrations up to date");
    Ok(())
}

/// `fte kb …`.
async fn kb(command: KbCommand) -> Result<(), StartupError> {
    let KbCommand::Ingest { database, tenant, embedder, dir } = command;
    let pool = db::connect(&database).await?;
    let articles = crate::kb::read_articles(&dir).map_err(|e| StartupError::Command(e.to_string()))?;
    let embedder = build_embedder(&embedder).map_err(|e| StartupError::Command(e.to_string()))?;
    crm::get_tenant(&pool, crate::domain::TenantId::from_uuid(tenant))
        .await
        .map_err(|e| StartupError::Command(format!("tenant {tenant}: {e}")))?;
    let report = crate::kb::ingest(&pool, crate::domain::TenantId::from_uuid(tenant), embedder.as_ref(), &articles)
        .await
        .map_err(|e| StartupError::Command(e.to_string()))?;
    println!("{}", serde_json::to_string(&report).unwrap_or_default());
    Ok(())
}

/// `fte channel …`.
async fn channel(command: ChannelCommand) -> Result<(), StartupError> {
    let ChannelCommand::Add { database, tenant, provider, address, config } = command;
    let config: serde_json::Value = serde_json::from_str(&config)
        .ok()
        .filter(serde_json::Value::is_object)
        .ok_or_else(|| StartupError::Command("--config must be a JSON object".into()))?;
    crate::channels::settings::AccountSettings::parse(provider, &config)
        .map_err(|e| StartupError::Command(format!("--config: {e}")))?;
    let address = crate::channels::settings::normalize_address(provider, &address)
        .map_err(|e| StartupError::Command(format!("--address: {e}")))?;
    let pool = db::connect(&database).await?;
    let account = crm::upsert_account(&pool, crate::domain::TenantId::from_uuid(tenant), provider, &address, &config)
        .await
        .map_err(|e| StartupError::Command(e.to_string()))?;
    println!(
        "{}",
        serde_json::json!({ "id": account.id, "tenant_id": account.tenant_id, "provider": account.provider,
                            "channel": account.channel(), "address": account.address })
    );
    Ok(())
}

/// `fte apikey …`.
async fn apikey(command: ApiKeyCommand) -> Result<(), StartupError> {
    let ApiKeyCommand::Create { database, tenant, role, name } = command;
    let pool = db::connect(&database).await?;
    let tenant = tenant.map(crate::domain::TenantId::from_uuid);
    if let Some(t) = tenant {
        crm::get_tenant(&pool, t).await.map_err(|e| StartupError::Command(format!("tenant {t}: {e}")))?;
    }
    let (id, token) =
        crate::auth::create_key(&pool, tenant, role, &name).await.map_err(|e| StartupError::Command(e.to_string()))?;
    println!("{}", serde_json::json!({ "id": id, "token": token, "role": role, "tenant_id": tenant, "name": name }));
    Ok(())
}

/// `fte usage`: without `--since` and `--until`, from the start of this
/// month (UTC) to the current time.
async fn usage(
    database: &DatabaseSettings,
    tenant: uuid::Uuid,
    since: Option<chrono::DateTime<chrono::Utc>>,
    until: Option<chrono::DateTime<chrono::Utc>>,
    top: i64,
) -> Result<(), StartupError> {
    use chrono::Datelike;
    let pool = db::connect(database).await?;
    let now = chrono::Utc::now();
    let month_start =
        now.date_naive().with_day(1).and_then(|d| d.and_hms_opt(0, 0, 0)).map(|d| d.and_utc()).unwrap_or(now);
    let report = crate::agent::usage::tenant_usage(
        &pool,
        crate::domain::TenantId::from_uuid(tenant),
        since.unwrap_or(month_start),
        until.unwrap_or(now),
        top,
    )
    .await
    .map_err(|e| StartupError::Command(e.to_string()))?;
    println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
    Ok(())
}

/// `fte probe`.
async fn probe(args: &crate::probe::ProbeArgs) -> Result<(), StartupError> {
    let status = crate::probe::run(args).await.map_err(|e| StartupError::Command(e.to_string()))?;
    println!("HTTP {status}");
    Ok(())
}

/// `fte bench`: one line per target, with its verdict.
async fn bench(args: crate::bench::BenchArgs) -> Result<(), StartupError> {
    let report = crate::bench::run(args).await.map_err(|e| StartupError::Command(e.to_string()))?;
    for t in &report.targets {
        let verdict = match t.met {
            Some(true) => "met",
            Some(false) => "MISSED",
            None => "not measured",
        };
        println!("{verdict:>12}  {}: {}", t.target, t.measured);
    }
    Ok(())
}

/// `fte eval`.
async fn eval(args: &crate::eval::EvalArgs) -> Result<(), StartupError> {
    if args.retrieval {
        let summary = crate::eval::retrieval::run(args).await.map_err(|e| StartupError::Command(e.to_string()))?;
        summary.print();
        if args.json {
            println!("{}", serde_json::to_string(&summary).unwrap_or_default());
        }
        return Ok(());
    }
    let report = crate::eval::run(args).await.map_err(|e| StartupError::Command(e.to_string()))?;
    report.print_lines();
    if args.json {
        println!("{}", serde_json::to_string(&report.summary).unwrap_or_default());
    }
    Ok(())
}

/// `fte customer …`.
async fn customer(command: CustomerCommand) -> Result<(), StartupError> {
    let failed = |e: crm::CrmError| StartupError::Command(e.to_string());
    let absent = |c: uuid::Uuid| StartupError::Command(format!("no customer {c} in this tenant"));
    match command {
        CustomerCommand::Export { database, tenant, customer } => {
            let pool = db::connect(&database).await?;
            let (tenant_id, customer_id) = (TenantId::from_uuid(tenant), CustomerId::from_uuid(customer));
            let doc = crm::export_customer(&pool, tenant_id, customer_id).await.map_err(failed)?;
            println!("{}", doc.ok_or_else(|| absent(customer))?);
        }
        CustomerCommand::Erase { database, tenant, customer, reason } => {
            if reason.trim().is_empty() {
                return Err(StartupError::Command("--reason must not be empty".into()));
            }
            let pool = db::connect(&database).await?;
            let (tenant_id, customer_id) = (TenantId::from_uuid(tenant), CustomerId::from_uuid(customer));
            let erasure = crm::Erasure { actor: "cli", reason: reason.trim(), request_id: None };
            let counts = crm::erase_customer(&pool, tenant_id, customer_id, erasure).await.map_err(failed)?;
            println!(
                "{}",
                serde_json::json!({ "customer_id": customer, "erased": counts.ok_or_else(|| absent(customer))? })
            );
        }
    }
    Ok(())
}

/// `fte tenant …`.
async fn tenant(command: TenantCommand) -> Result<(), StartupError> {
    match command {
        TenantCommand::Ensure { database, slug, name, merge_policy } => {
            let pool = db::connect(&database).await?;
            let (tenant, created) =
                crm::ensure_tenant(&pool, &NewTenant { slug, name, merge_policy: merge_policy.into() })
                    .await
                    .map_err(|e| StartupError::Command(e.to_string()))?;
            println!(
                "{}",
                serde_json::json!({ "id": tenant.id, "slug": tenant.slug, "name": tenant.name, "created": created })
            );
            Ok(())
        }
        TenantCommand::Create { database, slug, name, merge_policy } => {
            let pool = db::connect(&database).await?;
            let merge_policy = merge_policy.into();
            let tenant = crm::create_tenant(&pool, &NewTenant { slug, name, merge_policy })
                .await
                .map_err(|e| StartupError::Command(e.to_string()))?;
            println!(
                "{}",
                serde_json::json!({ "id": tenant.id, "slug": tenant.slug, "name": tenant.name, "merge_policy": tenant.merge_policy.as_str() })
            );
            Ok(())
        }
    }
}
