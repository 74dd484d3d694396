//! `serve` killed with SIGKILL in the middle of a stream of messages:
//! after a restart and the redelivery of everything that was not
//! acknowledged, every conversation continues with its full history, and
//! no message is lost or answered twice.

use crate::common::{TestDb, spawn_serve, wait_exit};
use fte::crm::MergePolicy;
use fte::db::begin_tenant;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use uuid::Uuid;

const CUSTOMERS: usize = 100;
const MESSAGES: usize = 5;
const TOKEN: &str = "test-inject-token";

/// Sends customer `c`'s messages from `from` on, in order; returns how many
/// were acknowledged before the first failure.
async fn send_from(
    client: reqwest::Client,
    addr: SocketAddr,
    tenant: Uuid,
    c: usize,
    from: usize,
    acked: Arc<AtomicUsize>,
) -> usize {
    let mut next = from;
    while next < MESSAGES {
        let body = serde_json::json!({
            "tenant_id": tenant.to_string(),
            "channel": "email",
            "external_id": format!("c{c}-m{next}"),
            "from": format!("c{c}@example.com"),
            "body": format!("message {next} from customer {c}"),
        });
        let sent = client.post(format!("http://{addr}/api/v1/inbound")).bearer_auth(TOKEN).json(&body).send().await;
        match sent {
            Ok(resp) if resp.status().is_success() => {
                next += 1;
                acked.fetch_add(1, Ordering::SeqCst);
            }
            // Not taken in (busy, or the database slow under load): a
            // client sends it again after the pause it is given.
            Ok(resp) if matches!(resp.status().as_u16(), 429 | 503) => {
                let pause =
                    resp.headers().get("retry-after").and_then(|v| v.to_str().ok()?.parse::<u64>().ok()).unwrap_or(1);
                tokio::time::sleep(std::time::Duration::from_secs(pause.min(5))).await;
            }
            // The process is gone (killed): stop here.
            _ => break,
        }
    }
    next
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_stream_then_restart_loses_nothing_and_duplicates_nothing() {
    let db = TestDb::new().await;
    let tenant = db.tenant("crash", MergePolicy::Manual).await.id;
    let client = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
    let env = [("INJECT_API_TOKEN", TOKEN)];

    // First life: stream messages, kill -9 when about a third are acknowledged.
    let (mut child, addr) = spawn_serve(&db.url, &env);
    let acked = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..CUSTOMERS)
        .map(|c| tokio::spawn(send_from(client.clone(), addr, tenant.as_uuid(), c, 0, Arc::clone(&acked))))
        .collect();
    while acked.load(Ordering::SeqCst) < CUSTOMERS * MESSAGES / 3 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let killed = std::process::Command::new("kill").args(["-KILL", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    wait_exit(&mut child, Duration::from_secs(10));
    let mut resume_at = Vec::new();
    for t in tasks {
        resume_at.push(t.await.unwrap());
    }
    let acked_before = acked.load(Ordering::SeqCst);
    assert!(acked_before < CUSTOMERS * MESSAGES, "the kill must land mid-stream");

    // Second life: redeliver everything not acknowledged, in order.
    let (mut child, addr) = spawn_serve(&db.url, &env);
    let tasks: Vec<_> = resume_at
        .iter()
        .enumerate()
        .map(|(c, from)| tokio::spawn(send_from(client.clone(), addr, tenant.as_uuid(), c, *from, Arc::clone(&acked))))
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), MESSAGES, "every message acknowledged after the restart");
    }

    // Every message stored once with exactly one reply, per customer in
    // order; every conversation has its full history.
    let mut tx = begin_tenant(&db.pool, tenant).await.unwrap();
    let inbound: i64 = sqlx::query_scalar("SELECT count(*) FROM messages WHERE direction = 'inbound'")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(inbound as usize, CUSTOMERS * MESSAGES);
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT i.external_id, count(o.id) FROM messages i LEFT JOIN messages o ON o.in_reply_to = i.id
          WHERE i.direction = 'inbound' GROUP BY i.external_id",
    )
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    for (ext, replies) in &rows {
        assert_eq!(*replies, 1, "{ext} has {replies} replies");
    }
    let versions: Vec<(i64, i64, i64)> = sqlx::query_as(
        "SELECT c.state_version, count(e.id), max(e.seq) FROM conversations c
           JOIN conversation_events e ON e.conversation_id = c.id GROUP BY c.id",
    )
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    assert_eq!(versions.len(), CUSTOMERS, "one conversation per customer");
    for (version, events, max_seq) in versions {
        assert_eq!((version, events, max_seq), (2 * MESSAGES as i64, 2 * MESSAGES as i64, 2 * MESSAGES as i64));
    }
    tx.commit().await.unwrap();
    crate::common::assert_replies_in_order(&db.pool, tenant, CUSTOMERS, MESSAGES).await;

    // Pending outbox rows (committed before the kill, not yet published)
    // go out after the restart.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let mut tx = begin_tenant(&db.pool, tenant).await.unwrap();
        let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        let total: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE message_id IS NOT NULL")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(total as usize, CUSTOMERS * MESSAGES, "one outbox row per reply");
        if pending == 0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{pending} outbox rows never published");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let term = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(term.success());
    assert!(wait_exit(&mut child, Duration::from_secs(20)).success());
}
