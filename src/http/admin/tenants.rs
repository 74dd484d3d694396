//! Tenants and their agent configuration, admin role
//! only: `GET/POST /api/v1/tenants`, `GET/PATCH /api/v1/tenants/{id}`,
//! `GET/PUT /api/v1/tenants/{id}/agent-config`. A global admin key sees and
//! creates tenants; a tenant-scoped admin key sees and changes only its own
//! (another tenant's id is not found). The agent configuration is
//! `tenants.settings -> 'agent'` ([`AgentConfig`]): unknown fields and bad
//! values are refused (422), and it never holds secrets (a model endpoint
//! names the environment variable with its key). A tenant's
//! `retention_days` (1-3650) is how long its customer content is kept
//! (`runtime::retention`). Every change is audited in the tenant's audit
//! log.

use super::audit::{self, Entry};
use super::{body, require, scope, unavailable};
use crate::agent::config::{AgentConfig, ConfigError};
use crate::auth::{Caller, Role};
use crate::crm::{CrmError, MergePolicy, NewTenant, ensure_tenant};
use crate::db::{SystemJob, begin_system_job, begin_tenant};
use crate::domain::TenantId;
use crate::http::AppState;
use crate::http::problem::{FieldError, Problem};
use crate::http::request_id::RequestId;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

const MAX_LIMIT: i64 = 500;
const POLICIES: [&str; 2] = ["manual", "auto"];

/// The tenant routes, for the main router and the OpenAPI document.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tenants, create_tenant))
        .routes(routes!(get_tenant, update_tenant))
        .routes(routes!(get_agent_config, put_agent_config))
}

/// A tenant as the admin API shows it.
#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct TenantView {
    pub id: Uuid,
    /// Lowercase letters, digits and dashes; unique.
    pub slug: String,
    pub name: String,
    /// `manual` or `auto`: what identity resolution does when one message
    /// ties two existing customers together.
    pub identity_merge_policy: String,
    /// Days customer content is kept (messages, conversation events,
    /// tickets…): the retention job deletes what is older.
    pub retention_days: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str =
    "SELECT id, slug, name, identity_merge_policy, retention_days, created_at, updated_at FROM tenants";

#[derive(Debug, Serialize, ToSchema)]
pub struct TenantPage {
    /// By slug.
    pub items: Vec<TenantView>,
    /// Pass as `cursor` for the next page; absent on the last one.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Page size (1-500, default 100).
    limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// `POST /api/v1/tenants`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTenantRequest {
    /// 2-63 lowercase letters, digits and dashes, not starting with a dash.
    pub slug: String,
    /// 1-200 characters.
    pub name: String,
    /// `manual` (the default) or `auto`.
    #[serde(default)]
    pub identity_merge_policy: Option<String>,
}

/// `PATCH /api/v1/tenants/{id}`: the fields to change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantPatch {
    pub name: Option<String>,
    /// `manual` or `auto`.
    pub identity_merge_policy: Option<String>,
    /// 1-3650.
    pub retention_days: Option<i64>,
}

/// Days of retention a tenant may choose.
const RETENTION_DAYS: std::ops::RangeInclusive<i64> = 1..=3650;

fn field(field: &str, message: impl Into<String>) -> FieldError {
    FieldError { field: field.into(), message: message.into() }
}

fn check_name(name: &str, errors: &mut Vec<FieldError>) {
    let n = name.trim().chars().count();
    if n == 0 || n > 200 {
        errors.push(field("name", "1-200 characters"));
    }
}

fn check_policy(policy: Option<&str>, errors: &mut Vec<FieldError>) -> MergePolicy {
    match policy {
        None | Some("manual") => MergePolicy::Manual,
        Some("auto") => MergePolicy::Auto,
        Some(_) => {
            errors.push(field("identity_merge_policy", format!("one of {}", POLICIES.join(", "))));
            MergePolicy::Manual
        }
    }
}

fn valid_slug(slug: &str) -> bool {
    (2..=63).contains(&slug.len())
        && slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
}

/// The tenant a path id names, if the caller may see it (else not found).
fn path_tenant(caller: &Caller, id: &str) -> Result<TenantId, Problem> {
    let id: TenantId = id.parse().map_err(|_| Problem::not_found("no such tenant"))?;
    scope(caller, Some(&id.to_string()))
}

async fn load(state: &AppState, tenant: TenantId) -> Result<TenantView, Problem> {
    let mut tx = begin_tenant(&state.pool, tenant).await.map_err(unavailable)?;
    let row: Option<TenantView> = sqlx::query_as(sqlx::AssertSqlSafe(format!("{COLUMNS} WHERE id = $1")))
        .bind(tenant)
        .fetch_optional(&mut *tx)
        .await
        .map_err(unavailable)?;
    tx.commit().await.map_err(unavailable)?;
    row.ok_or_else(|| Problem::not_found("no such tenant"))
}

fn snapshot(t: &TenantView) -> serde_json::Value {
    serde_json::json!({
        "slug": t.slug,
        "name": t.name,
        "identity_merge_policy": t.identity_merge_policy,
        "retention_days": t.retention_days,
    })
}

/// The tenants the key may see: every tenant for a global admin key, its
/// own for a tenant-scoped one.
#[utoipa::path(
    get,
    path = "/api/v1/tenants",
    tag = "tenants",
    params(ListQuery),
    responses(
        (status = 200, description = "Tenants by slug", body = TenantPage),
        (status = 400, description = "Bad query", body = Problem),
        (status = 401, description = "No or unknown API key", body = Problem),
        (status = 403, description = "Not an admin key", body = Problem),
    ),
    security(("api_key" = []))
)]
pub async fn list_tenants(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<TenantPage>, Problem> {
    require(&caller, Role::Admin)?;
    let Query(q) = query.map_err(|e| Problem::bad_request(e.body_text()))?;
    let limit = super::page_limit(q.limit, 100, MAX_LIMIT)?;
    if q.cursor.as_deref().is_some_and(|c| c.contains('\0')) {
        return Err(Problem::bad_request("cursor is not one this API gave out"));
    }
    let sql = format!("{COLUMNS} WHERE ($1::text IS NULL OR slug > $1) ORDER BY slug LIMIT $2");
    let mut tx = match caller.tenant {
        Some(own) => begin_tenant(&state.pool, own).await,
        None => begin_system_job(&state.pool, SystemJob::TenantDirectory).await,
    }
    .map_err(unavailable)?;
    let items: Vec<TenantView> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(q.cursor.as_deref())
        .bind(limit + 1)
        .fetch_all(&mut *tx)
        .await
        .map_err(unavailable)?;
    tx.commit().await.map_err(unavailable)?;
    let (items, next_cursor) = super::into_page(items, limit, |t| t.slug.clone());
    Ok(Json(TenantPage { items, next_cursor }))
}

/// Creates a tenant (global admin keys only). Its id is derived from the
/// slug, like `fte tenant ensure`'s; a slug already taken is 409.
#[utoipa::path(
    post,
    path = "/api/v1/tenants",
    tag = "tenants",
    request_body = NewTenantRequest,
    responses(
        (status = 201, description = "Created", body = TenantView),
        (status = 401, description = "No or unknown API key", body = Problem),
        (status = 403, description = "Not a global admin key", body = Problem),
        (status = 409, description = "The slug is taken", body = Problem),
        (status = 422, description = "Invalid fields", body = Problem),
    ),
    security(("api_key" = []))
)]
pub async fn create_tenant(
    State(state): State<AppState>,
    caller: Caller,
    request: Option<Extension<RequestId>>,
    new: Result<Json<NewTenantRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<TenantView>), Problem> {
    require(&caller, Role::Admin)?;
    if caller.tenant.is_some() {
        return Err(Problem::forbidden("only a global admin key may create tenants"));
    }
    let new = body(new)?;
    let mut errors = Vec::new();
    let slug = new.slug.trim();
    if !valid_slug(slug) {
        errors.push(field("slug", "2-63 lowercase letters, digits and dashes, not starting with a dash"));
    }
    check_name(&new.name, &mut errors);
    let merge_policy = check_policy(new.identity_merge_policy.as_deref(), &mut errors);
    if !errors.is_empty() {
        return Err(Problem::invalid_fields(errors));
    }
    let taken = || Problem::new(StatusCode::CONFLICT, "conflict", format!("the slug {slug:?} is taken"));
    let wanted = NewTenant { slug: slug.to_string(), name: new.name.trim().to_string(), merge_policy };
    let tenant = match ensure_tenant(&state.pool, &wanted).await {
        Ok((t, true)) => t,
        Ok((_, false)) => return Err(taken()),
        Err(CrmError::Database(e)) if e.as_database_error().is_some_and(|d| d.is_unique_violation()) => {
            return Err(taken());
        }
        Err(CrmError::InvalidTenant(m)) => {
            let which = if m.starts_with("name") { "name" } else { "slug" };
            return Err(Problem::invalid_fields(vec![field(which, m)]));
        }
        Err(e) => {
            tracing::error!(error = %e, slug, "cannot create a tenant");
            return Err(Problem::unavailable("the tenant could not be created; retry"));
        }
    };
    let view = load(&state, tenant.id).await?;
    tracing::info!(tenant_id = %tenant.id, slug, "tenant created through the admin API");
    audit::record(
        &state.pool,
        tenant.id,
        &caller,
        request.as_ref().map(|Extension(r)| r),
        Entry {
            action: "tenant.create",
            target_type: "tenant",
            target_id: tenant.id.to_string(),
            before: serde_json::Value::Null,
            after: snapshot(&view),
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// One tenant.
#[utoipa::path(
    get,
    path = "/api/v1/tenants/{id}",
    tag = "tenants",
    params(("id" = String, Path, description = "The tenant's id")),
    responses(
        (status = 200, description = "The tenant", body = TenantView),
        (status = 401, description = "No or unknown API key", body = Problem),
        (status = 403, description = "Not an admin key", body = Problem),
        (status = 404, description = "No such tenant (or not the key's)", body = Problem),
    ),
    security(("api_key" = []))
)]
pub async fn get_tenant(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<TenantView>, Problem> {
    require(&caller, Role::Admin)?;
    let tenant = path_tenant(&caller, &id)?;
    Ok(Json(load(&state, tenant).await?))
}

/// Renames a tenant, or changes its identity merge policy or retention.
#[utoipa::path(
    patch,
    path = "/api/v1/tenants/{id}",
    tag = "tenants",
    params(("id" = String, Path, description = "The tenant's id")),
    request_body = TenantPatch,
    responses(
        (status = 200, description = "The tenant after the change", body = TenantView),
        (status = 401, description = "No or unknown API key", body = Problem),
        (status = 403, description = "Not an admin key", body = Problem),
        (status = 404, description = "No such tenant (or not the key's)", body = Problem),
        (status = 422, description = "Invalid fields", body = Problem),
    ),
    security(("api_key" = []))
)]
pub async fn update_tenant(
    State(state): State<AppState>,
    caller: Caller,
    request: Option<Extension<RequestId>>,
    Path(id): Path<String>,
    change: Result<Json<TenantPatch>, JsonRejection>,
) -> Result<Json<TenantView>, Problem> {
    require(&caller, Role::Admin)?;
    let tenant = path_tenant(&caller, &id)?;
    let change = body(change)?;
    let mut errors = Vec::new();
    if let Some(name) = &change.name {
        check_name(name, &mut errors);
    }
    if change.identity_merge_policy.is_some() {
        check_policy(change.identity_merge_policy.as_deref(), &mut errors);
    }
    if change.retention_days.is_some_and(|d| !RETENTION_DAYS.contains(&d)) {
        errors.push(field("retention_days", "1-3650 days"));
    }
    if change.name.is_none() && change.identity_merge_policy.is_none() && change.retention_days.is_none() {
        errors.push(field("name", "give at least one of name, identity_merge_policy, retention_days"));
    }
    if !errors.is_empty() {
        return Err(Problem::invalid_fields(errors));
    }
    let before = load(&state, tenant).await?;
    let mut tx = begin_tenant(&state.pool, tenant).await.map_err(unavailable)?;
    sqlx::query(
        "UPDATE tenants SET name = COALESCE($2, name), identity_merge_policy = COALESCE($3, identity_merge_policy),
                retention_days = COALESCE($4, retention_days), updated_at = now()
          WHERE id = $1",
    )
    .bind(tenant)
    .bind(change.name.as_deref().map(str::trim))
    .bind(change.identity_merge_policy.as_deref())
    .bind(change.retention_days.and_then(|d| i32::try_from(d).ok()))
    .execute(&mut *tx)
    .await
    .map_err(unavailable)?;
    tx.commit().await.map_err(unavailable)?;
    let after = load(&state, tenant).await?;
    audit::record(
        &state.pool,
        tenant,
        &caller,
        request.as_ref().map(|Extension(r)| r),
        Entry {
            action: "tenant.update",
            target_type: "tenant",
            target_id: tenant.to_string(),
            before: snapshot(&before),
            after: snapshot(&after),
        },
    )
    .await?;
    Ok(Json(after))
}

/// The stored `settings -> 'agent'` document (null when never set).
async fn stored_config(state: &AppState, tenant: TenantId) -> Result<serde_json::Value, Problem> {
    let mut tx = begin_tenant(&state.pool, tenant).await.map_err(unavailable)?;
    let value: Option<Option<serde_json::Value>> =
        sqlx::query_scalar("SELECT settings -> 'agent' FROM tenants WHERE id = $1")
            .bind(tenant)
            .fetch_optional(&mut *tx)
            .await
            .map_err(unavailable)?;
    tx.commit().await.map_err(unavailable)?;
    value.map(Option::unwrap_or_default).ok_or_else(|| Problem::not_found("no such tenant"))
}

/// The field a configuration error is about: the unknown one serde names,
/// or the field its message starts with; else the whole document.
fn config_field(message: &str) -> String {
    if let Some(rest) = message.split("unknown field `").nth(1)
        && let Some(name) = rest.split('`').next()
    {
        return name.to_string();
    }
    let first = message.split([' ', ':']).next().unwrap_or_default();
    let known = serde_json::to_value(AgentConfig::default()).ok();
    match known.as_ref().and_then(|k| k.get(first)) {
        Some(_) => first.to_string(),
        None => "agent_config".to_string(),
    }
}

/// The tenant's agent configuration (defaults where unset).
#[utoipa::path(
    get,
    path = "/api/v1/tenants/{id}/agent-config",
    tag = "tenants",
    params(("id" = String, Path, description = "The tenant's id")),
    responses(
        (status = 200, description = "The effective agent configuration", body = Object),
        (status = 401, description = "No or unknown API key", body = Problem),
        (status = 403, description = "Not an admin key", body = Problem),
        (status = 404, description = "No such tenant (or not the key's)", body = Problem),
        (status = 500, description = "The stored configuration is invalid (replace it)", body = Problem),
    ),
    security(("api_key" = []))
)]
pub async fn get_agent_config(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, Problem> {
    require(&caller, Role::Admin)?;
    let tenant = path_tenant(&caller, &id)?;
    let stored = stored_config(&state, tenant).await?;
    let config = match stored {
        serde_json::Value::Null => AgentConfig::default(),
        v => AgentConfig::from_json(v).map_err(|e| {
            tracing::error!(tenant_id = %tenant, error = %e, "stored agent configuration is invalid");
            Problem::internal(format!("{e}; PUT a valid configuration to replace it"))
        })?,
    };
    serde_json::to_value(config).map(Json).map_err(|e| Problem::internal(e.to_string()))
}

/// Replaces the tenant's agent configuration (fields left out take their
/// defaults). Unknown fields and bad values are 422; nothing is stored then.
#[utoipa::path(
    put,
    path = "/api/v1/tenants/{id}/agent-config",
    tag = "tenants",
    params(("id" = String, Path, description = "The tenant's id")),
    request_body(content = Object, description = "An agent configuration (see `src/agent/config.rs`)"),
    responses(
        (status = 200, description = "The stored configuration, defaults filled in", body = Object),
        (status = 401, description = "No or unknown API key", body = Problem),
        (status = 403, description = "Not an admin key", body = Problem),
        (status = 404, description = "No such tenant (or not the key's)", body = Problem),
        (status = 422, description = "Unknown field or invalid value", body = Problem),
    ),
    security(("api_key" = []))
)]
pub async fn put_agent_config(
    State(state): State<AppState>,
    caller: Caller,
    request: Option<Extension<RequestId>>,
    Path(id): Path<String>,
    document: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<Json<serde_json::Value>, Problem> {
    require(&caller, Role::Admin)?;
    let tenant = path_tenant(&caller, &id)?;
    let document = body(document)?;
    let invalid = |e: ConfigError| match e {
        ConfigError::Invalid(m) => Problem::invalid_fields(vec![field(&config_field(&m), m)]),
        ConfigError::Db(e) => unavailable(e),
    };
    if !document.is_object() {
        return Err(Problem::invalid_fields(vec![field("agent_config", "must be a JSON object")]));
    }
    let config = AgentConfig::from_json(document).map_err(invalid)?;
    let before = stored_config(&state, tenant).await?;
    config.store(&state.pool, tenant).await.map_err(invalid)?;
    let after = serde_json::to_value(&config).map_err(|e| Problem::internal(e.to_string()))?;
    tracing::info!(tenant_id = %tenant, "agent configuration replaced");
    audit::record(
        &state.pool,
        tenant,
        &caller,
        request.as_ref().map(|Extension(r)| r),
        Entry {
            action: "tenant.agent_config.update",
            target_type: "tenant",
            target_id: tenant.to_string(),
            before,
            after: after.clone(),
        },
    )
    .await?;
    Ok(Json(after))
}
