//! A year of a tenant's history, seeded straight into PostgreSQL: customers
//! with an email each, one resolved conversation per customer (a closed
//! ticket, every other one an escalation), a given number of messages per
//! conversation (half inbound), three events per conversation and a
//! published outbox row per customer, dated over the past year. The bench's
//! `--history` option and the per-turn query test use it, so that a turn's
//! statements meet tables of a real tenant's size.

use crate::db::begin_tenant;
use crate::domain::TenantId;
use sqlx::PgPool;

/// What to seed: customers `from ..= from + customers - 1` of the tenant,
/// `messages_per` messages each.
#[derive(Clone, Copy, Debug)]
pub struct History {
    pub tenant: TenantId,
    pub from: i64,
    pub customers: i64,
    pub messages_per: i64,
}

/// The tables in the order they are filled (each row refers only to rows
/// of the tables before it). `$1` tenant, `$2..$3` the customer numbers,
/// `$4` messages per conversation (only the `messages` statement).
const TABLES: [(&str, &str); 8] = [
    (
        "customers",
        "INSERT INTO customers (id, tenant_id, display_name, created_at)
           SELECT md5('cu' || g)::uuid, $1, 'Seeded ' || g, now() - interval '365 days' + g * interval '1 second'
             FROM generate_series($2::bigint, $3::bigint) g",
    ),
    (
        "customer_identifiers",
        "INSERT INTO customer_identifiers (id, tenant_id, customer_id, kind, value)
           SELECT md5('ci' || g)::uuid, $1, md5('cu' || g)::uuid, 'email', 'seeded' || g || '@example.com'
             FROM generate_series($2::bigint, $3::bigint) g",
    ),
    (
        "conversations",
        "INSERT INTO conversations (id, tenant_id, customer_id, state, state_version, initial_channel, current_channel,
                                    opened_at, updated_at, last_message_at, resolved_at)
           SELECT md5('cv' || g)::uuid, $1, md5('cu' || g)::uuid, 'resolved', 3, 'email', 'email',
                  now() - interval '300 days', now() - interval '200 days', now() - interval '200 days',
                  now() - interval '200 days'
             FROM generate_series($2::bigint, $3::bigint) g",
    ),
    (
        "tickets",
        "INSERT INTO tickets (id, tenant_id, customer_id, conversation_id, source_channel, subject, status, created_at)
           SELECT md5('tk' || g)::uuid, $1, md5('cu' || g)::uuid, md5('cv' || g)::uuid, 'email', 'Seeded', 'closed',
                  now() - interval '250 days'
             FROM generate_series($2::bigint, $3::bigint) g",
    ),
    (
        "escalations",
        "INSERT INTO escalations (id, tenant_id, conversation_id, customer_id, reason, status, created_at, resolved_at)
           SELECT md5('es' || g)::uuid, $1, md5('cv' || g)::uuid, md5('cu' || g)::uuid, 'human_requested', 'resolved',
                  now() - interval '250 days', now() - interval '249 days'
             FROM generate_series($2::bigint, $3::bigint) g WHERE g % 2 = 0",
    ),
    (
        "conversation_events",
        "INSERT INTO conversation_events (tenant_id, conversation_id, seq, event_type, payload, state_before,
                                          state_after, state_version)
           SELECT $1, md5('cv' || g)::uuid, s, 'seeded', '{}', 'idle', 'resolved', s
             FROM generate_series($2::bigint, $3::bigint) g, generate_series(1, 3) s",
    ),
    (
        "messages",
        "INSERT INTO messages (id, tenant_id, conversation_id, customer_id, channel, direction, author, body, external_id,
                               delivery_status, created_at)
           SELECT md5('m' || g || '-' || k)::uuid, $1, md5('cv' || g)::uuid, md5('cu' || g)::uuid, 'email',
                  CASE WHEN k % 2 = 0 THEN 'inbound' ELSE 'outbound' END,
                  CASE WHEN k % 2 = 0 THEN 'customer' ELSE 'ai' END,
                  'seeded message ' || k || ' of customer ' || g,
                  CASE WHEN k % 2 = 0 THEN 'seed-' || g || '-' || k END,
                  CASE WHEN k % 2 = 0 THEN 'received' ELSE 'delivered' END,
                  now() - interval '250 days' + k * interval '1 minute'
             FROM generate_series($2::bigint, $3::bigint) g, generate_series(0, $4::bigint - 1) k",
    ),
    (
        "outbox",
        "INSERT INTO outbox (tenant_id, topic, key, payload, created_at, published_at)
           SELECT $1, 'fte.channels.email.outbound', md5('cu' || g)::uuid::text, '{}', now() - interval '200 days',
                  now() - interval '200 days'
             FROM generate_series($2::bigint, $3::bigint) g",
    ),
];

/// Seeds `history`: one transaction per table, each table analysed before
/// the next is filled (a foreign-key check plans its lookup once per
/// transaction, and a plan made while the referenced table was small scans
/// it for every row). Customers are seeded in slices of `SLICE`, so that no
/// transaction holds millions of rows.
pub async fn seed(pool: &PgPool, history: History) -> Result<(), sqlx::Error> {
    const SLICE: i64 = 50_000;
    let last = history.from + history.customers - 1;
    for (table, sql) in TABLES {
        let mut start = history.from;
        while start <= last {
            let end = (start + SLICE - 1).min(last);
            let mut tx = begin_tenant(pool, history.tenant).await?;
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(history.tenant.as_uuid()).bind(start).bind(end);
            if table == "messages" {
                q = q.bind(history.messages_per);
            }
            q.execute(&mut *tx).await?;
            tx.commit().await?;
            start = end + 1;
        }
        sqlx::query(sqlx::AssertSqlSafe(format!("ANALYZE {table}"))).execute(pool).await?;
    }
    Ok(())
}
