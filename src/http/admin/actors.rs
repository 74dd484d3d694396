//! The supervisor API: the conversation actors resident in this process
//! (`GET /api/v1/actors`, viewer and up, the caller's tenant only), the
//! runtime's counters (`GET /api/v1/runtime/stats`, supervisor and up:
//! process-wide counts, no tenant data), and passivating one customer's
//! actor (`POST /api/v1/actors/{customer_id}/passivate`, supervisor and up,
//! audited). Actors live in `serve` and `worker` processes; another
//! process answers 503.

use super::audit::{self, Entry};
use super::{TenantQuery, require, scope};
use crate::actors::{ResidentActor, StatsSnapshot};
use crate::auth::{Caller, Role};
use crate::domain::CustomerId;
use crate::http::AppState;
use crate::http::problem::Problem;
use crate::http::request_id::RequestId;
use crate::runtime::Runtime;
use axum::extract::{Path, Query, State};
use axum::{Extension, Json};
use serde::Serialize;
use std::sync::Arc;

fn runtime(state: &AppState) -> Result<&Arc<Runtime>, Problem> {
    state.runtime.as_ref().ok_or_else(|| Problem::unavailable("this process runs no conversation actors"))
}

#[derive(Debug, Serialize)]
pub struct Actors {
    pub items: Vec<ResidentActor>,
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<TenantQuery>,
) -> Result<Json<Actors>, Problem> {
    require(&caller, Role::Viewer)?;
    let tenant = scope(&caller, q.tenant.as_deref())?;
    let items = runtime(&state)?.resident().into_iter().filter(|a| a.tenant_id == tenant).collect();
    Ok(Json(Actors { items }))
}

pub async fn stats(State(state): State<AppState>, caller: Caller) -> Result<Json<StatsSnapshot>, Problem> {
    require(&caller, Role::Supervisor)?;
    Ok(Json(runtime(&state)?.stats()))
}

#[derive(Debug, Serialize)]
pub struct Passivated {
    pub customer_id: CustomerId,
    /// False when the actor was not resident (nothing to do).
    pub passivated: bool,
}

pub async fn passivate(
    State(state): State<AppState>,
    caller: Caller,
    request: Option<Extension<RequestId>>,
    Path(customer): Path<String>,
    Query(q): Query<TenantQuery>,
) -> Result<Json<Passivated>, Problem> {
    require(&caller, Role::Supervisor)?;
    let tenant = scope(&caller, q.tenant.as_deref())?;
    let customer: CustomerId = customer.parse().map_err(|_| Problem::not_found("no such customer"))?;
    let runtime = runtime(&state)?;
    let resident = runtime.resident().into_iter().find(|a| a.customer_id == customer);
    match &resident {
        Some(a) if a.tenant_id != tenant => return Err(Problem::not_found("no such customer")),
        _ => {}
    }
    if resident.is_none() && !customer_exists(&state, tenant, customer).await? {
        return Err(Problem::not_found("no such customer"));
    }
    let passivated = runtime.passivate(customer).await.map_err(|e| Problem::unavailable(e.to_string()))?;
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

async fn customer_exists(
    state: &AppState,
    tenant: crate::domain::TenantId,
    customer: CustomerId,
) -> Result<bool, Problem> {
    let run = async {
        let mut tx = crate::db::begin_tenant(&state.pool, tenant).await?;
        let found: Option<(i32,)> = sqlx::query_as("SELECT 1 FROM customers WHERE id = $1")
            .bind(customer.as_uuid())
            .fetch_optional(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok::<_, sqlx::Error>(found.is_some())
    };
    run.await.map_err(|_| Problem::unavailable("cannot look the customer up; retry"))
}
