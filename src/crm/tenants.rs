//! Tenants: the companies served by this runtime, each isolated from the
//! others by row-level security.

use super::CrmError;
use crate::db::begin_tenant;
use crate::domain::TenantId;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

/// What resolution does when one message ties two existing customers
/// together.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MergePolicy {
    /// Record a merge candidate for a human to decide.
    Manual,
    /// Merge at once (the candidate is still recorded, as merged).
    Auto,
}

impl MergePolicy {
    pub fn as_str(&self) -> &'static str {
        match self {
            MergePolicy::Manual => "manual",
            MergePolicy::Auto => "auto",
        }
    }

    fn from_db(s: &str) -> Result<Self, CrmError> {
        match s {
            "manual" => Ok(Self::Manual),
            "auto" => Ok(Self::Auto),
            other => Err(CrmError::InvalidTenant(format!("unknown merge policy {other:?}"))),
        }
    }
}

#[derive(Clone, Debug)]
pub struct NewTenant {
    pub slug: String,
    pub name: String,
    pub merge_policy: MergePolicy,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    pub slug: String,
    pub name: String,
    pub merge_policy: MergePolicy,
}

/// Creates a tenant. The slug is lowercase letters, digits and dashes.
pub async fn create_tenant(pool: &PgPool, new: &NewTenant) -> Result<Tenant, CrmError> {
    create_tenant_with_id(pool, TenantId::new(), new).await
}

/// The id [`ensure_tenant`] gives a slug: derived from it (UUID v5), so a
/// set-up script can run again and find the tenant it made.
pub fn stable_tenant_id(slug: &str) -> TenantId {
    const NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x6a1f_0c3e_5b7d_4e21_9c84_2f6d_1a0b_7e55);
    TenantId::from_uuid(uuid::Uuid::new_v5(&NAMESPACE, slug.trim().as_bytes()))
}

/// Returns the tenant with this slug made by an earlier `ensure_tenant`, or
/// creates it. The bool says whether it was created. A slug taken by a
/// tenant made with `create_tenant` is an error (its id is not derivable).
pub async fn ensure_tenant(pool: &PgPool, new: &NewTenant) -> Result<(Tenant, bool), CrmError> {
    let id = stable_tenant_id(&new.slug);
    match get_tenant(pool, id).await {
        Ok(t) => Ok((t, false)),
        Err(CrmError::TenantNotFound) => Ok((create_tenant_with_id(pool, id, new).await?, true)),
        Err(e) => Err(e),
    }
}

async fn create_tenant_with_id(pool: &PgPool, id: TenantId, new: &NewTenant) -> Result<Tenant, CrmError> {
    let slug = new.slug.trim();
    let valid_slug = (2..=63).contains(&slug.len())
        && slug.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !slug.starts_with('-');
    if !valid_slug {
        return Err(CrmError::InvalidTenant(format!("slug {slug:?}: use 2-63 lowercase letters, digits and dashes")));
    }
    let name = new.name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(CrmError::InvalidTenant("name must be 1-200 characters".into()));
    }
    let mut tx = begin_tenant(pool, id).await?;
    sqlx::query("INSERT INTO tenants (id, slug, name, identity_merge_policy) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(slug)
        .bind(name)
        .bind(new.merge_policy.as_str())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!(tenant_id = %id, slug, "tenant created");
    Ok(Tenant { id, slug: slug.to_string(), name: name.to_string(), merge_policy: new.merge_policy })
}

pub async fn get_tenant(pool: &PgPool, id: TenantId) -> Result<Tenant, CrmError> {
    let mut tx = begin_tenant(pool, id).await?;
    let row: Option<(String, String, String)> =
        sqlx::query_as("SELECT slug, name, identity_merge_policy FROM tenants WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    tx.commit().await?;
    let (slug, name, policy) = row.ok_or(CrmError::TenantNotFound)?;
    Ok(Tenant { id, slug, name, merge_policy: MergePolicy::from_db(&policy)? })
}
