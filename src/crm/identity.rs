//! Identity resolution: which customer wrote this message? A customer is
//! found by any of their identifiers (email, phone, Slack user, WhatsApp
//! number), created when none matches, and given the identifiers that were
//! new. When one message's identifiers point at two different customers
//! the pair becomes a merge candidate; only a tenant whose policy is
//! `auto` merges them, and never silently (the candidate row records it).

use super::{CrmError, MergePolicy};
use crate::db::begin_tenant;
use crate::domain::{CustomerId, Identifier, TenantId};
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

const MAX_ATTEMPTS: u32 = 5;

/// The outcome of `resolve_customer`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolution {
    /// The customer the message belongs to.
    pub customer_id: CustomerId,
    /// True when no identifier matched and the customer was created.
    pub created: bool,
    /// Identifiers that were new and are now linked to `customer_id`.
    pub linked: Vec<Identifier>,
    /// Other customers the identifiers matched, recorded as pending merge
    /// candidates (manual policy, or an automatic merge that had to wait).
    pub merge_candidates: Vec<CustomerId>,
    /// Customers merged into `customer_id` (auto policy).
    pub merged: Vec<CustomerId>,
}

/// Resolves the customer behind `identifiers` in its own transaction,
/// retrying when a concurrent resolution of the same identifiers wins a
/// race. Put the sender's own address first: when identifiers disagree the
/// message belongs to the customer of the first one that matched.
#[tracing::instrument(skip_all, fields(tenant_id = %tenant, customer_id = tracing::field::Empty))]
pub async fn resolve_customer(
    pool: &PgPool,
    tenant: TenantId,
    identifiers: &[Identifier],
    display_name: Option<&str>,
) -> Result<Resolution, CrmError> {
    for attempt in 1..=MAX_ATTEMPTS {
        let mut tx = begin_tenant(pool, tenant).await?;
        match resolve_customer_in(&mut tx, tenant, identifiers, display_name).await {
            Ok(resolution) => {
                tx.commit().await?;
                tracing::Span::current().record("customer_id", tracing::field::display(resolution.customer_id));
                tracing::debug!(created = resolution.created, linked = resolution.linked.len(), "customer resolved");
                return Ok(resolution);
            }
            Err(e) if is_race(&e) && attempt < MAX_ATTEMPTS => {
                tracing::debug!(attempt, error = %e, "identity resolution raced a concurrent writer; retrying");
                tx.rollback().await?;
            }
            Err(e) if is_race(&e) => return Err(CrmError::Contention(MAX_ATTEMPTS)),
            Err(e) => return Err(e),
        }
    }
    Err(CrmError::Contention(MAX_ATTEMPTS))
}

/// True for the errors a retry can fix: a unique violation (someone
/// inserted the same identifier first) or a serialization failure.
fn is_race(e: &CrmError) -> bool {
    match e {
        CrmError::Database(sqlx::Error::Database(db)) => {
            matches!(db.code().as_deref(), Some("23505") | Some("40001") | Some("40P01"))
        }
        _ => false,
    }
}

/// The same as `resolve_customer`, inside a caller's tenant-scoped
/// transaction (the conversation actor resolves and stores a message in
/// one transaction). A race surfaces as a unique-violation database error;
/// the caller rolls back and retries.
pub async fn resolve_customer_in(
    conn: &mut PgConnection,
    tenant: TenantId,
    identifiers: &[Identifier],
    display_name: Option<&str>,
) -> Result<Resolution, CrmError> {
    let mut wanted: Vec<&Identifier> = Vec::with_capacity(identifiers.len());
    for id in identifiers {
        if !wanted.contains(&id) {
            wanted.push(id);
        }
    }
    if wanted.is_empty() {
        return Err(CrmError::NoIdentifiers);
    }
    let display_name = display_name.map(str::trim).filter(|n| !n.is_empty());

    let (matched, unlinked) = owners(conn, tenant, &wanted).await?;

    let Some(&(sender_customer, _)) = matched.first() else {
        let customer_id = CustomerId::new();
        sqlx::query("INSERT INTO customers (id, tenant_id, display_name) VALUES ($1, $2, $3)")
            .bind(customer_id)
            .bind(tenant)
            .bind(display_name)
            .execute(&mut *conn)
            .await?;
        link(conn, tenant, customer_id, &unlinked).await?;
        return Ok(Resolution {
            customer_id,
            created: true,
            linked: unlinked.into_iter().cloned().collect(),
            merge_candidates: vec![],
            merged: vec![],
        });
    };

    let mut resolution = Resolution {
        customer_id: sender_customer,
        created: false,
        linked: unlinked.iter().map(|id| (*id).clone()).collect(),
        merge_candidates: vec![],
        merged: vec![],
    };
    if matched.len() > 1 {
        merge_matches(conn, tenant, &wanted, &matched, &mut resolution).await?;
    }
    link(conn, tenant, resolution.customer_id, &unlinked).await?;
    if let Some(name) = display_name {
        sqlx::query(
            "UPDATE customers SET display_name = $2, updated_at = now() WHERE id = $1 AND display_name IS NULL",
        )
        .bind(resolution.customer_id)
        .bind(name)
        .execute(&mut *conn)
        .await?;
    }
    Ok(resolution)
}

/// The customers the wanted identifiers belong to (each once, with when it
/// was created, in the caller's order), and the identifiers no customer
/// has yet.
async fn owners<'i>(
    conn: &mut PgConnection,
    tenant: TenantId,
    wanted: &[&'i Identifier],
) -> Result<(Vec<(CustomerId, chrono::DateTime<chrono::Utc>)>, Vec<&'i Identifier>), CrmError> {
    let (kinds, values): (Vec<&str>, Vec<&str>) =
        wanted.iter().flat_map(|id| id.match_keys()).map(|(kind, value)| (kind.as_str(), value)).unzip();
    let rows: Vec<(String, String, Uuid, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(
        "SELECT ci.kind, ci.value, ci.customer_id, c.created_at
           FROM customer_identifiers ci
           JOIN customers c ON c.id = ci.customer_id
          WHERE ci.tenant_id = $1
            AND (ci.kind, ci.value) IN (SELECT * FROM unnest($2::text[], $3::text[]))",
    )
    .bind(tenant)
    .bind(&kinds)
    .bind(&values)
    .fetch_all(&mut *conn)
    .await?;

    // Which customer each wanted identifier matched, in the caller's order.
    let owner_of = |id: &Identifier| {
        let keys = id.match_keys();
        rows.iter()
            .find(|(k, v, _, _)| keys.iter().any(|(kind, value)| kind.as_str() == k && value == v))
            .map(|(_, _, customer, created)| (CustomerId::from_uuid(*customer), *created))
    };
    let mut matched: Vec<(CustomerId, chrono::DateTime<chrono::Utc>)> = Vec::new();
    let mut unlinked: Vec<&Identifier> = Vec::new();
    for id in wanted {
        match owner_of(id) {
            Some(owner) if !matched.iter().any(|(c, _)| *c == owner.0) => matched.push(owner),
            Some(_) => {}
            None => unlinked.push(id),
        }
    }
    Ok((matched, unlinked))
}

/// The identifiers matched several customers: each other one becomes a
/// merge candidate, and under the tenant's automatic policy the oldest
/// customer keeps the conversation and the others are merged into it
/// (deferred while both have an open conversation).
async fn merge_matches(
    conn: &mut PgConnection,
    tenant: TenantId,
    wanted: &[&Identifier],
    matched: &[(CustomerId, chrono::DateTime<chrono::Utc>)],
    resolution: &mut Resolution,
) -> Result<(), CrmError> {
    let policy = merge_policy(conn, tenant).await?;
    if policy == MergePolicy::Auto {
        // Keep the oldest customer: its id is the one with the history.
        if let Some(&(oldest, _)) = matched.iter().min_by_key(|(c, created)| (*created, *c)) {
            resolution.customer_id = oldest;
        }
    }
    let keep = resolution.customer_id;
    for &(other, _) in matched.iter().filter(|(c, _)| *c != keep) {
        let evidence = json!({
            "identifiers": wanted.iter().map(|id| id.to_string()).collect::<Vec<_>>(),
        });
        record_candidate(conn, tenant, keep, other, &evidence).await?;
        if policy == MergePolicy::Auto {
            match merge_in(conn, tenant, keep, other).await {
                Ok(()) => {
                    resolution.merged.push(other);
                    continue;
                }
                Err(CrmError::OpenConversationConflict { .. }) => {
                    tracing::warn!(
                        tenant_id = %tenant, customer_id = %keep, other_customer_id = %other,
                        "automatic merge deferred: both customers have an open conversation"
                    );
                }
                Err(e) => return Err(e),
            }
        }
        tracing::info!(
            tenant_id = %tenant, customer_id = %keep, other_customer_id = %other,
            "identifiers matched two customers; merge candidate recorded"
        );
        resolution.merge_candidates.push(other);
    }
    Ok(())
}

/// Links identifiers to a customer. A plain INSERT: if a concurrent
/// resolution linked one of them first, the unique violation makes the
/// caller retry and find it.
async fn link(
    conn: &mut PgConnection,
    tenant: TenantId,
    customer: CustomerId,
    ids: &[&Identifier],
) -> Result<(), CrmError> {
    for id in ids {
        sqlx::query(
            "INSERT INTO customer_identifiers (id, tenant_id, customer_id, kind, value) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(Uuid::now_v7())
        .bind(tenant)
        .bind(customer)
        .bind(id.kind().as_str())
        .bind(id.value())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn merge_policy(conn: &mut PgConnection, tenant: TenantId) -> Result<MergePolicy, CrmError> {
    let policy: Option<String> = sqlx::query_scalar("SELECT identity_merge_policy FROM tenants WHERE id = $1")
        .bind(tenant)
        .fetch_optional(&mut *conn)
        .await?;
    match policy.as_deref() {
        Some("auto") => Ok(MergePolicy::Auto),
        Some(_) => Ok(MergePolicy::Manual),
        None => Err(CrmError::TenantNotFound),
    }
}

async fn record_candidate(
    conn: &mut PgConnection,
    tenant: TenantId,
    a: CustomerId,
    b: CustomerId,
    evidence: &serde_json::Value,
) -> Result<(), CrmError> {
    let (lo, hi) = ordered(a, b);
    sqlx::query(
        "INSERT INTO customer_merge_candidates (id, tenant_id, customer_a, customer_b, evidence)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant_id, customer_a, customer_b) DO NOTHING",
    )
    .bind(Uuid::now_v7())
    .bind(tenant)
    .bind(lo)
    .bind(hi)
    .bind(evidence)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Merges `absorbed` into `kept` in its own transaction: identifiers,
/// conversations, messages, tickets and escalations move to `kept`;
/// `absorbed` stays as a row pointing at it (`merged_into`).
pub async fn merge_customers(
    pool: &PgPool,
    tenant: TenantId,
    kept: CustomerId,
    absorbed: CustomerId,
) -> Result<(), CrmError> {
    let mut tx = begin_tenant(pool, tenant).await?;
    merge_in(&mut tx, tenant, kept, absorbed).await?;
    tx.commit().await?;
    tracing::info!(tenant_id = %tenant, customer_id = %kept, absorbed_customer_id = %absorbed, "customers merged");
    Ok(())
}

async fn merge_in(
    conn: &mut PgConnection,
    tenant: TenantId,
    kept: CustomerId,
    absorbed: CustomerId,
) -> Result<(), CrmError> {
    if kept == absorbed {
        return Err(CrmError::SelfMerge(kept));
    }
    // Lock both rows in a fixed order so two merges cannot deadlock.
    let (lo, hi) = ordered(kept, absorbed);
    let found: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM customers WHERE id = ANY($1) AND merged_into IS NULL ORDER BY id FOR UPDATE",
    )
    .bind(vec![lo.as_uuid(), hi.as_uuid()])
    .fetch_all(&mut *conn)
    .await?;
    for c in [kept, absorbed] {
        if !found.contains(&c.as_uuid()) {
            return Err(CrmError::CustomerNotFound(c));
        }
    }
    let open: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT customer_id) FROM conversations WHERE customer_id = ANY($1) AND state <> 'resolved'",
    )
    .bind(vec![kept.as_uuid(), absorbed.as_uuid()])
    .fetch_one(&mut *conn)
    .await?;
    if open > 1 {
        return Err(CrmError::OpenConversationConflict { kept, absorbed });
    }
    for table in ["customer_identifiers", "conversations", "messages", "tickets", "escalations"] {
        let sql = format!("UPDATE {table} SET customer_id = $1 WHERE tenant_id = $3 AND customer_id = $2");
        sqlx::query(sqlx::AssertSqlSafe(sql)).bind(kept).bind(absorbed).bind(tenant).execute(&mut *conn).await?;
    }
    sqlx::query("UPDATE customers SET merged_into = $1, updated_at = now() WHERE id = $2")
        .bind(kept)
        .bind(absorbed)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "UPDATE customer_merge_candidates SET status = 'merged', resolved_at = now()
          WHERE tenant_id = $1 AND customer_a = $2 AND customer_b = $3",
    )
    .bind(tenant)
    .bind(lo)
    .bind(hi)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A pair in a fixed order: merge candidates are stored that way, and rows
/// are locked that way (so two merges cannot deadlock).
fn ordered(a: CustomerId, b: CustomerId) -> (CustomerId, CustomerId) {
    if a < b { (a, b) } else { (b, a) }
}
