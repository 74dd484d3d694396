//! The CRM in PostgreSQL: tenants, customers and their identifiers. Every
//! function here takes a `TenantId` and runs in a tenant-scoped transaction
//! (`db::begin_tenant`), so row-level security backs up every `WHERE`.

mod account_cache;
mod channel_accounts;
mod error;
mod gdpr;
mod identity;
mod tenants;

pub use account_cache::AccountCache;
pub use channel_accounts::{
    ChannelAccount, get_account, provider_accounts, resolve_account, tenant_accounts, upsert_account,
};
pub use error::CrmError;
pub use gdpr::{Erasure, erase_customer, erased_since, export_customer};
pub use identity::{Resolution, merge_customers, resolve_customer, resolve_customer_in};
pub use tenants::{MergePolicy, NewTenant, Tenant, create_tenant, ensure_tenant, get_tenant, stable_tenant_id};
