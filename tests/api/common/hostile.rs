//! Hostile inbound text for the channel tests (the same on every channel):
//! a NUL (which PostgreSQL refuses), a bell, an escape sequence, a
//! right-to-left override and a decomposed é; what `clean_text` makes of
//! it; a lone surrogate as a JSON escape (serde_json refuses it); emoji by
//! the megabyte; and the check that a refused request left no row behind.

use super::{TestDb, tenant_count};
use fte::domain::TenantId;

/// The hostile text, as a Rust string.
pub const HOSTILE: &str = "Hi\u{0} there\u{7}\u{1b}[31m \u{202e}exe.pdf cafe\u{301}\r\nbye";

/// The same text as the content of a JSON string literal, escapes only
/// (plain ASCII: it survives a command line and any transport as is).
pub const HOSTILE_JSON: &str = r"Hi\u0000 there\u0007\u001b[31m \u202eexe.pdf cafe\u0301\r\nbye";

/// What is stored of it: NUL, bell, ESC and the override gone, CR LF
/// made LF, the é composed (NFC).
pub const HOSTILE_CLEANED: &str = "Hi there[31m exe.pdf caf\u{e9}\nbye";

/// A lone (leading) surrogate as a JSON escape: not a Unicode scalar
/// value, so no valid JSON text holds it; serde_json refuses the document.
pub const LONE_SURROGATE: &str = r"\ud800";

/// One emoji: 4 bytes of UTF-8, one character.
pub const EMOJI: char = '\u{1F600}';

/// 1 MB (10^6 bytes) and 1 MiB.
pub const ONE_MB: usize = 1_000_000;
pub const ONE_MIB: usize = 1024 * 1024;

/// `bytes` bytes of emoji (rounded down to whole emoji).
pub fn emoji(bytes: usize) -> String {
    std::iter::repeat_n(EMOJI, bytes / EMOJI.len_utf8()).collect()
}

/// The tenant's rows a message leaves on its way in: customers, their
/// identifiers, inbound messages, intake rows.
#[derive(Debug, PartialEq, Eq)]
pub struct Rows {
    pub customers: i64,
    pub identifiers: i64,
    pub inbound: i64,
    pub intake: i64,
}

pub async fn rows(db: &TestDb, tenant: TenantId) -> Rows {
    Rows {
        customers: tenant_count(db, tenant, "SELECT count(*) FROM customers").await,
        identifiers: tenant_count(db, tenant, "SELECT count(*) FROM customer_identifiers").await,
        inbound: tenant_count(db, tenant, "SELECT count(*) FROM messages WHERE direction = 'inbound'").await,
        intake: tenant_count(db, tenant, "SELECT count(*) FROM inbound_intake").await,
    }
}

/// Nothing stored for the tenant: no customer, no identifier, no message,
/// no intake row (waits a moment, so a turn that should not run would
/// have had time to leave its rows).
pub async fn assert_nothing_stored(db: &TestDb, tenant: TenantId, after: &str) {
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        rows(db, tenant).await,
        Rows { customers: 0, identifiers: 0, inbound: 0, intake: 0 },
        "rows left after {after}"
    );
}

/// Waits (20 s at most) until the tenant's rows are `want`: every turn
/// settled (its intake row gone), nothing left half-stored.
pub async fn wait_rows(db: &TestDb, tenant: TenantId, want: Rows) {
    let mut got = rows(db, tenant).await;
    for _ in 0..400 {
        if got == want {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        got = rows(db, tenant).await;
    }
    assert_eq!(got, want, "the tenant's rows did not settle in 20 s");
}

/// The tenant's only inbound message whose external id is `external_id`:
/// its body, its metadata, and its customer's display name.
pub async fn inbound(db: &TestDb, tenant: TenantId, external_id: &str) -> (String, serde_json::Value, Option<String>) {
    let mut tx = fte::db::begin_tenant(&db.pool, tenant).await.unwrap();
    let row = sqlx::query_as(
        "SELECT m.body, m.metadata, c.display_name FROM messages m JOIN customers c ON c.id = m.customer_id
          WHERE m.direction = 'inbound' AND m.external_id = $1",
    )
    .bind(external_id)
    .fetch_one(&mut *tx)
    .await
    .unwrap_or_else(|e| panic!("no inbound message {external_id}: {e}"));
    tx.commit().await.unwrap();
    row
}

/// Waits (20 s at most) until the inbound message `external_id` has a
/// reply stored; returns the reply's body.
pub async fn wait_stored_reply(db: &TestDb, tenant: TenantId, external_id: &str) -> String {
    for _ in 0..400 {
        let mut tx = fte::db::begin_tenant(&db.pool, tenant).await.unwrap();
        let reply: Option<String> = sqlx::query_scalar(
            "SELECT o.body FROM messages o JOIN messages i ON i.id = o.in_reply_to
              WHERE o.direction = 'outbound' AND i.external_id = $1",
        )
        .bind(external_id)
        .fetch_optional(&mut *tx)
        .await
        .unwrap();
        tx.commit().await.unwrap();
        if let Some(body) = reply {
            return body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("message {external_id} was not answered in 20 s");
}
