//! The supervisor API: the conversation actors resident in this process
//! (`GET /api/v1/actors`, viewer and up, the caller's tenant only), one
//! customer's actor with its conversation's state and recent events
//! (`GET /api/v1/actors/{customer_id}`, viewer), the runtime's counters
//! (`GET /api/v1/runtime/stats`, supervisor and up: process-wide counts,
//! no tenant data), and passivating or restarting one customer's actor
//! (`POST /api/v1/actors/{customer_id}/passivate|restart`, supervisor and
//! up, audited). Actors live in `serve` and `worker` processes; another
//! process answers 503.

use super::audit::{self, Entry};
use super::{TenantQuery, require, scope, unavailable};
use crate::actors::{ResidentActor, StatsSnapshot};
use crate::auth::{Caller, Role};
use crate::db::begin_tenant;
use crate::domain::{CustomerId, TenantId};
use crate::http::AppState;
use crate::http::problem::Problem;
use crate::http::request_id::RequestId;
use crate::runtime::Runtime;
use axum::extract::{Path, Query, State};
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::sync::Arc;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(detail))
        .routes(routes!(stats))
        .routes(routes!(passivate))
        .routes(routes!(restart))
}

fn runtime(state: &AppState) -> Result<&Arc<Runtime>, Problem> {
    state.runtime.as_ref().ok_or_else(|| Problem::unavailable("this process runs no conversation actors"))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Actors {
    pub items: Vec<ResidentActor>,
}

/// The tenant's conversation actors resident in this process.
#[utoipa::path(get, path = "/api/v1/actors", tag = "runtime", params(TenantQuery),
    responses((status = 200, body = Actors), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem), (status = 503, body = Problem)),
    security(("api_key" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<TenantQuery>,
) -> Result<Json<Actors>, Problem> {
    require(&caller, Role::Viewer)?;
    let tenant = scope(&caller, q.tenant.as_deref())?;
    let mut items: Vec<ResidentActor> =
        runtime(&state)?.resident().into_iter().filter(|a| a.tenant_id == tenant).collect();
    let customers: Vec<Uuid> = items.iter().map(|a| a.customer_id.as_uuid()).collect();
    let mut tx = begin_tenant(&state.pool, tenant).await.map_err(unavailable)?;
    let states: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT DISTINCT ON (customer_id) customer_id, state FROM conversations WHERE customer_id = ANY($1)
          ORDER BY customer_id, (state <> 'resolved') DESC, opened_at DESC",
    )
    .bind(&customers)
    .fetch_all(&mut *tx)
    .await
    .map_err(unavailable)?;
    tx.commit().await.map_err(unavailable)?;
    for a in &mut items {
        a.conversation_state = states.iter().find(|(c, _)| *c == a.customer_id.as_uuid()).map(|(_, s)| s.clone());
    }
    Ok(Json(Actors { items }))
}

#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct RecentEvent {
    pub seq: i64,
    pub event_type: String,
    pub state_after: String,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ActorDetail {
    pub customer_id: CustomerId,
    /// The actor, when it is resident in this process.
    pub resident: Option<ResidentActor>,
    /// The customer's latest conversation, as stored.
    pub conversation_id: Option<Uuid>,
    pub state: Option<String>,
    pub state_version: Option<i64>,
    /// Its last events, newest first (at most 20).
    pub recent_events: Vec<RecentEvent>,
}

async fn stored(
    state: &AppState,
    tenant: TenantId,
    customer: CustomerId,
) -> Result<Option<(Option<(Uuid, String, i64)>, Vec<RecentEvent>)>, Problem> {
    let mut tx = begin_tenant(&state.pool, tenant).await.map_err(unavailable)?;
    let exists: Option<(i32,)> = sqlx::query_as("SELECT 1 FROM customers WHERE id = $1")
        .bind(customer.as_uuid())
        .fetch_optional(&mut *tx)
        .await
        .map_err(unavailable)?;
    if exists.is_none() {
        return Ok(None);
    }
    let conversation: Option<(Uuid, String, i64)> = sqlx::query_as(
        "SELECT id, state, state_version FROM conversations WHERE customer_id = $1
          ORDER BY (state <> 'resolved') DESC, opened_at DESC LIMIT 1",
    )
    .bind(customer.as_uuid())
    .fetch_optional(&mut *tx)
    .await
    .map_err(unavailable)?;
    let events = match &conversation {
        Some((id, _, _)) => sqlx::query_as(
            "SELECT seq, event_type, state_after, payload, created_at FROM conversation_events
              WHERE conversation_id = $1 ORDER BY seq DESC LIMIT 20",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await
        .map_err(unavailable)?,
        None => Vec::new(),
    };
    tx.commit().await.map_err(unavailable)?;
    Ok(Some((conversation, events)))
}

/// One customer's actor (if resident here) and its conversation's state
/// and recent events as stored.
#[utoipa::path(get, path = "/api/v1/actors/{customer_id}", tag = "runtime",
    params(("customer_id" = String, Path, description = "customer id"), TenantQuery),
    responses((status = 200, body = ActorDetail), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("api_key" = [])))]
pub async fn detail(
    State(state): State<AppState>,
    caller: Caller,
    Path(customer): Path<String>,
    Query(q): Query<TenantQuery>,
) -> Result<Json<ActorDetail>, Problem> {
    require(&caller, Role::Viewer)?;
    let tenant = scope(&caller, q.tenant.as_deref())?;
    let customer: CustomerId = customer.parse().map_err(|_| Problem::not_found("no such customer"))?;
    let (conversation, recent_events) =
        stored(&state, tenant, customer).await?.ok_or_else(|| Problem::not_found("no such customer"))?;
    let resident = state
        .runtime
        .as_ref()
        .and_then(|r| r.resident().into_iter().find(|a| a.customer_id == customer && a.tenant_id == tenant));
    Ok(Json(ActorDetail {
        customer_id: customer,
        resident,
        conversation_id: conversation.as_ref().map(|c| c.0),
        state: conversation.as_ref().map(|c| c.1.clone()),
        state_version: conversation.as_ref().map(|c| c.2),
        recent_events,
    }))
}

/// Process-wide runtime counters.
#[utoipa::path(get, path = "/api/v1/runtime/stats", tag = "runtime",
    responses((status = 200, body = StatsSnapshot), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 503, body = Problem)),
    security(("api_key" = [])))]
pub async fn stats(State(state): State<AppState>, caller: Caller) -> Result<Json<StatsSnapshot>, Problem> {
    require(&caller, Role::Supervisor)?;
    Ok(Json(runtime(&state)?.stats()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Passivated {
    pub customer_id: CustomerId,
    /// False when the actor was not resident (nothing to do).
    pub passivated: bool,
}

/// The customer of `raw` in `tenant` (404 otherwise), and its resident
/// actor if any.
async fn resident_customer(
    state: &AppState,
    tenant: TenantId,
    raw: &str,
) -> Result<(CustomerId, Option<ResidentActor>), Problem> {
    let customer: CustomerId = raw.parse().map_err(|_| Problem::not_found("no such customer"))?;
    let resident = runtime(state)?.resident().into_iter().find(|a| a.customer_id == customer);
    match &resident {
        Some(a) if a.tenant_id != tenant => return Err(Problem::not_found("no such customer")),
        None if stored(state, tenant, customer).await?.is_none() => {
            return Err(Problem::not_found("no such customer"));
        }
        _ => {}
    }
    Ok((customer, resident))
}

/// Passivate one customer's actor now (it rehydrates on its next message).
#[utoipa::path(post, path = "/api/v1/actors/{customer_id}/passivate", tag = "runtime",
    params(("customer_id" = String, Path, description = "customer id"), TenantQuery),
    responses((status = 200, body = Passivated), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem), (status = 503, body = Problem)),
    security(("api_key" = [])))]
pub async fn passivate(
    State(state): State<AppState>,
    caller: Caller,
    request: Option<Extension<RequestId>>,
    Path(customer): Path<String>,
    Query(q): Query<TenantQuery>,
) -> Result<Json<Passivated>, Problem> {
    require(&caller, Role::Supervisor)?;
    let tenant = scope(&caller, q.tenant.as_deref())?;
    let (customer, resident) = resident_customer(&state, tenant, &customer).await?;
    let passivated = runtime(&state)?.passivate(customer).await.map_err(|e| Problem::unavailable(e.to_string()))?;
    audit::record(
        &state.pool,
        tenant,
        &caller,
        request.as_ref().map(|Extension(r)| r),
        Entry {
            action: "actor.passivate",
            target_type: "customer",
            target_id: customer.to_string(),
            before: serde_json::json!({ "resident": resident.is_some() }),
            after: serde_json::json!({ "resident": false }),
        },
    )
    .await?;
    Ok(Json(Passivated { customer_id: customer, passivated }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Restarted {
    pub customer_id: CustomerId,
    pub conversation_id: Option<Uuid>,
    /// The state its successor rehydrated.
    pub state: String,
    pub state_version: u64,
}

/// Restart one customer's actor: it drains and stops, and a successor
/// rehydrates from PostgreSQL at once.
#[utoipa::path(post, path = "/api/v1/actors/{customer_id}/restart", tag = "runtime",
    params(("customer_id" = String, Path, description = "customer id"), TenantQuery),
    responses((status = 200, body = Restarted), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem), (status = 503, body = Problem)),
    security(("api_key" = [])))]
pub async fn restart(
    State(state): State<AppState>,
    caller: Caller,
    request: Option<Extension<RequestId>>,
    Path(customer): Path<String>,
    Query(q): Query<TenantQuery>,
) -> Result<Json<Restarted>, Problem> {
    require(&caller, Role::Supervisor)?;
    let tenant = scope(&caller, q.tenant.as_deref())?;
    let (customer, resident) = resident_customer(&state, tenant, &customer).await?;
    let (conversation, loaded) =
        runtime(&state)?.restart(tenant, customer).await.map_err(|e| Problem::unavailable(e.to_string()))?;
    audit::record(
        &state.pool,
        tenant,
        &caller,
        request.as_ref().map(|Extension(r)| r),
        Entry {
            action: "actor.restart",
            target_type: "customer",
            target_id: customer.to_string(),
            before: serde_json::json!({ "resident": resident.is_some() }),
            after: serde_json::json!({ "resident": true, "state": loaded.status.as_str(), "state_version": loaded.version }),
        },
    )
    .await?;
    Ok(Json(Restarted {
        customer_id: customer,
        conversation_id: conversation.map(|c| c.as_uuid()),
        state: loaded.status.as_str().to_string(),
        state_version: loaded.version,
    }))
}
