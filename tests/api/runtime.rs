//! The conversation runtime against the real database: one actor per
//! customer, ordered and exactly-once replies under concurrency,
//! redelivery, panics, passivation, version conflicts, the outbox relay
//! and inactivity.

use crate::common::{TestDb, email, runtime_with, wide_pool};
use fte::actors::{ConversationActor, ConversationActorMessage, ConversationDeps};
use fte::brain::{Brain, BrainFuture, EchoBrain, TurnInput};
use fte::bus::OutboundRecord;
use fte::conversation::Status;
use fte::crm::{MergePolicy, resolve_customer};
use fte::db::begin_tenant;
use fte::domain::{Channel, CustomerId, EmailAddress, Identifier, TenantId, TicketMessage};
use fte::runtime::{Runtime, RuntimeConfig};
use ractor::{Actor, RpcReplyPort};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::Notify;

async fn count(db: &TestDb, tenant: TenantId, sql: &str) -> i64 {
    let mut tx = begin_tenant(&db.pool, tenant).await.unwrap();
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string())).fetch_one(&mut *tx).await.unwrap()
}

async fn customer(db: &TestDb, tenant: TenantId, address: &str) -> CustomerId {
    let id = Identifier::Email(EmailAddress::parse(address).unwrap());
    resolve_customer(&db.pool, tenant, &[id], None).await.unwrap().customer_id
}

/// Drains an outbound topic until `expected` records arrived (or times out).
async fn collect_outbound(runtime: &Runtime, channel: Channel, expected: usize) -> Vec<OutboundRecord> {
    let receivers = runtime.take_outbound(channel);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for mut r in receivers {
        let tx = tx.clone();
        tokio::spawn(async move {
            while let Some(rec) = r.recv().await {
                if tx.send(rec).is_err() {
                    break;
                }
            }
        });
    }
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while out.len() < expected {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(rec)) => out.push(rec),
            _ => break,
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_customers_times_five_messages_get_exactly_one_ordered_reply_each() {
    const CUSTOMERS: usize = 1000;
    const MESSAGES: usize = 5;
    let db = TestDb::new().await;
    let tenant = db.tenant("load", MergePolicy::Manual).await.id;
    let pool = wide_pool(&db, 40).await;
    let runtime = Runtime::start(pool, Arc::new(EchoBrain), RuntimeConfig::default()).await.unwrap();
    let outbound = {
        let rt = Arc::clone(&runtime);
        tokio::spawn(async move { collect_outbound(&rt, Channel::Email, CUSTOMERS * MESSAGES).await })
    };

    let mut customers = Vec::new();
    for c in 0..CUSTOMERS {
        customers.push(customer(&db, tenant, &format!("c{c}@example.com")).await);
    }
    // Every customer's messages are enqueued in order; all customers at once.
    let mut tasks = Vec::new();
    for (c, customer_id) in customers.iter().enumerate() {
        let rt = Arc::clone(&runtime);
        let customer_id = *customer_id;
        tasks.push(tokio::spawn(async move {
            let mut pending = Vec::new();
            for m in 0..MESSAGES {
                let msg = email(tenant, &format!("c{c}@example.com"), &format!("c{c}-m{m}"), &format!("message {m}"));
                pending.push(rt.enqueue_resolved(TicketMessage { customer_id, message: msg }).await.unwrap());
            }
            let mut receipts = Vec::new();
            for p in pending {
                receipts.push(p.await.unwrap());
            }
            receipts
        }));
    }
    for t in tasks {
        let receipts = t.await.unwrap();
        assert_eq!(receipts.len(), MESSAGES);
        for (m, r) in receipts.iter().enumerate() {
            assert!(!r.duplicate);
            assert_eq!(r.replies.len(), 1);
            assert_eq!(r.state_version, 2 * (m as u64 + 1), "two transitions per turn, in order");
        }
    }

    let total = (CUSTOMERS * MESSAGES) as i64;
    assert_eq!(count(&db, tenant, "SELECT count(*) FROM messages WHERE direction = 'inbound'").await, total);
    assert_eq!(count(&db, tenant, "SELECT count(*) FROM messages WHERE direction = 'outbound'").await, total);
    assert_eq!(
        count(&db, tenant, "SELECT count(*) FROM (SELECT in_reply_to FROM messages WHERE direction = 'outbound' GROUP BY in_reply_to HAVING count(*) = 1) x").await,
        total,
        "exactly one reply per inbound"
    );
    assert_eq!(count(&db, tenant, "SELECT count(*) FROM conversations").await, CUSTOMERS as i64);
    // Replies are in the order of the messages they answer, per customer.
    crate::common::assert_replies_in_order(&db.pool, tenant, CUSTOMERS, MESSAGES).await;

    // The outbound topic carries every reply once, per customer in order.
    let records = outbound.await.unwrap();
    let ids: HashSet<String> = records.iter().map(|r| r.payload["message_id"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids.len(), CUSTOMERS * MESSAGES, "every reply published");
    let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in &records {
        seen.entry(r.key.clone()).or_default().push(r.payload["message_id"].as_str().unwrap().to_string());
    }
    for ids in seen.values() {
        let mut sorted = ids.clone();
        sorted.sort(); // UUIDv7: creation order
        assert_eq!(ids, &sorted, "a customer's replies leave in order");
    }
    assert_eq!(count(&db, tenant, "SELECT count(*) FROM outbox WHERE published_at IS NULL").await, 0);
    runtime.shutdown().await;
}

#[tokio::test]
async fn a_redelivered_message_changes_nothing_and_gets_no_second_reply() {
    let db = TestDb::new().await;
    let tenant = db.tenant("dedupe", MergePolicy::Manual).await.id;
    let runtime = runtime_with(&db, Arc::new(EchoBrain), RuntimeConfig::default()).await;
    let msg = email(tenant, "kim@example.com", "gmail-123", "Where do I find invoices?");
    let first = runtime.submit(msg.clone()).await.unwrap();
    assert!(!first.duplicate);
    let events = count(&db, tenant, "SELECT count(*) FROM conversation_events").await;
    let again = runtime.submit(msg).await.unwrap();
    assert!(again.duplicate);
    assert_eq!(again.message_id, first.message_id);
    assert_eq!(again.replies, first.replies);
    assert_eq!(count(&db, tenant, "SELECT count(*) FROM conversation_events").await, events, "no new events");
    assert_eq!(count(&db, tenant, "SELECT count(*) FROM messages").await, 2, "one inbound, one reply");
    assert_eq!(count(&db, tenant, "SELECT count(*) FROM outbox WHERE topic = 'fte.channels.email.outbound'").await, 1);
    assert_eq!(
        count(&db, tenant, "SELECT count(*) FROM outbox WHERE topic = 'fte.metrics'").await,
        1,
        "one turn measured"
    );
    runtime.shutdown().await;
}

/// Panics once, mid-turn, on a message containing "boom"; echoes otherwise.
struct PanicOnce {
    fired: AtomicBool,
}

impl Brain for PanicOnce {
    fn name(&self) -> &'static str {
        "panic-once"
    }

    fn turn<'a>(&'a self, input: TurnInput<'a>) -> BrainFuture<'a> {
        Box::pin(async move {
            if input.message.contains("boom") && !self.fired.swap(true, Ordering::SeqCst) {
                panic!("injected failure mid-turn");
            }
            Ok(EchoBrain::decide(&input))
        })
    }
}

#[tokio::test]
async fn a_panic_mid_turn_restarts_the_actor_which_processes_the_message_once() {
    let db = TestDb::new().await;
    let tenant = db.tenant("panic", MergePolicy::Manual).await.id;
    let brain = Arc::new(PanicOnce { fired: AtomicBool::new(false) });
    let runtime = runtime_with(&db, brain.clone(), RuntimeConfig::default()).await;
    let first = runtime.submit(email(tenant, "ana@example.com", "m-1", "hello")).await.unwrap();
    let receipt = runtime.submit(email(tenant, "ana@example.com", "m-2", "boom")).await.unwrap();
    assert!(brain.fired.load(Ordering::SeqCst), "the panic happened");
    assert!(!receipt.duplicate);
    assert_eq!(receipt.replies.len(), 1);
    assert_eq!(receipt.conversation_id, first.conversation_id, "the restarted actor rehydrated the conversation");
    assert_eq!(receipt.state_version, 4);
    let stats = runtime.stats();
    assert_eq!(stats.failed, 1, "{stats:?}");
    assert_eq!(stats.spawned, 2, "spawned, failed, spawned again: {stats:?}");
    assert_eq!(count(&db, tenant, "SELECT count(*) FROM messages WHERE external_id = 'm-2'").await, 1);
    assert_eq!(count(&db, tenant, "SELECT count(*) FROM messages WHERE direction = 'outbound'").await, 2);
    assert_eq!(count(&db, tenant, "SELECT max(seq) FROM conversation_events").await, 4);
    runtime.shutdown().await;
}

#[tokio::test]
async fn an_idle_actor_passivates_and_its_next_message_rehydrates_the_same_conversation() {
    let db = TestDb::new().await;
    let tenant = db.tenant("passivate", MergePolicy::Manual).await.id;
    let config = RuntimeConfig {
        supervisor: fte::actors::SupervisorConfig {
            idle_timeout: Duration::from_secs(600),
            max_active: 1000,
            tick: Duration::from_secs(60),
        },
        ..RuntimeConfig::default()
    };
    let runtime = runtime_with(&db, Arc::new(EchoBrain), config).await;
    let first = runtime.submit(email(tenant, "li@example.com", "p-1", "first")).await.unwrap();
    let customer_id = customer(&db, tenant, "li@example.com").await;
    assert_eq!(runtime.resident().len(), 1);

    // Ten idle minutes pass in paused time: the supervisor's tick finds the
    // actor idle and passivates it.
    tokio::time::pause();
    tokio::time::advance(Duration::from_secs(661)).await;
    tokio::time::resume();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !runtime.resident().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "actor still resident: {:?}", runtime.resident());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(runtime.stats().passivated, 1);

    let second = runtime.submit(email(tenant, "li@example.com", "p-2", "second")).await.unwrap();
    assert_eq!(second.conversation_id, first.conversation_id);
    assert_eq!(second.state_version, 4, "rehydrated at version 2, then one more turn");
    let (conversation, state) = runtime.inspect(tenant, customer_id).await.unwrap();
    assert_eq!(conversation, Some(first.conversation_id));
    assert_eq!((state.status, state.customer_messages, state.replies), (Status::AwaitingCustomer, 2, 2));
    assert_eq!(runtime.stats().spawned, 2);
    runtime.shutdown().await;
}

#[tokio::test]
async fn more_than_max_active_actors_evicts_the_least_recently_used() {
    let db = TestDb::new().await;
    let tenant = db.tenant("evict", MergePolicy::Manual).await.id;
    let config = RuntimeConfig {
        supervisor: fte::actors::SupervisorConfig { max_active: 20, ..Default::default() },
        ..RuntimeConfig::default()
    };
    let runtime = runtime_with(&db, Arc::new(EchoBrain), config).await;
    for i in 0..30 {
        runtime.submit(email(tenant, &format!("u{i}@example.com"), &format!("e-{i}"), "hi")).await.unwrap();
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while runtime.resident().len() > 20 {
        assert!(tokio::time::Instant::now() < deadline, "{} resident", runtime.resident().len());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(runtime.stats().evicted >= 10, "{:?}", runtime.stats());
    // The most recent customer is still resident; the first one is not.
    let resident: HashSet<_> = runtime.resident().into_iter().map(|a| a.customer_id).collect();
    assert!(resident.contains(&customer(&db, tenant, "u29@example.com").await));
    assert!(!resident.contains(&customer(&db, tenant, "u0@example.com").await));
    runtime.shutdown().await;
}

fn deps(db: &TestDb) -> Arc<ConversationDeps> {
    Arc::new(ConversationDeps {
        pool: db.pool.clone(),
        brain: Arc::new(EchoBrain),
        outbox_notify: Arc::new(Notify::new()),
        approval_threshold: 0.8,
        snapshot_every: 100,
        max_conflict_retries: 3,
        metrics: Arc::default(),
    })
}

async fn send(
    actor: &ractor::ActorRef<ConversationActorMessage>,
    customer: CustomerId,
    msg: fte::domain::InboundMessage,
) -> fte::actors::TurnReceipt {
    let (tx, rx) = tokio::sync::oneshot::channel();
    actor
        .cast(ConversationActorMessage::Inbound(
            Box::new(TicketMessage { customer_id: customer, message: msg }),
            std::sync::Arc::new(fte::brain::Seat::unmetered()),
            RpcReplyPort::from(tx),
        ))
        .unwrap();
    rx.await.unwrap().unwrap()
}

#[tokio::test]
async fn two_writers_on_one_conversation_one_conflicts_rereads_and_both_transitions_land() {
    let db = TestDb::new().await;
    let tenant = db.tenant("writers", MergePolicy::Manual).await.id;
    let customer_id = customer(&db, tenant, "two@example.com").await;
    let first_turn = email(tenant, "two@example.com", "w-0", "opening");
    // Two actors for one customer (an old owner that has not noticed it
    // lost the customer, and the new one), both loaded at the same version.
    let args = || fte::actors::conversation::ConversationActorArgs {
        tenant,
        customer: customer_id,
        deps: deps(&db),
        queued: Default::default(),
    };
    let (a, _) = Actor::spawn(None, ConversationActor, args()).await.unwrap();
    let (b, _) = Actor::spawn(None, ConversationActor, args()).await.unwrap();
    let r1 = send(&a, customer_id, first_turn).await;
    assert_eq!(r1.state_version, 2);
    // B still believes the conversation does not exist: its commit
    // conflicts, it re-reads and retries on top of A's transitions.
    let r2 = send(&b, customer_id, email(tenant, "two@example.com", "w-1", "second")).await;
    assert_eq!(r2.conversation_id, r1.conversation_id);
    assert_eq!(r2.state_version, 4, "the final version reflects both turns");
    assert_eq!(count(&db, tenant, "SELECT count(*) FROM conversations").await, 1);
    assert_eq!(count(&db, tenant, "SELECT state_version FROM conversations").await, 4);
    assert_eq!(count(&db, tenant, "SELECT count(*) FROM conversation_events").await, 4);
    // A is now behind: its next turn conflicts and re-reads too.
    let r3 = send(&a, customer_id, email(tenant, "two@example.com", "w-2", "third")).await;
    assert_eq!(r3.state_version, 6);
    a.stop(None);
    b.stop(None);
}

#[tokio::test]
async fn a_stale_commit_is_a_version_conflict_and_never_overwrites() {
    use fte::conversation::store::{self, StoreError, TurnRecord};
    use fte::conversation::{ConversationState, Event, transition};
    let db = TestDb::new().await;
    let tenant = db.tenant("stale", MergePolicy::Manual).await.id;
    let runtime = runtime_with(&db, Arc::new(EchoBrain), RuntimeConfig::default()).await;
    let receipt = runtime.submit(email(tenant, "s@example.com", "s-1", "hi")).await.unwrap();
    runtime.shutdown().await;
    let customer_id = customer(&db, tenant, "s@example.com").await;
    // A writer that still holds version 0 tries to resolve the conversation.
    let stale = ConversationState::new();
    let mut pretend = stale.clone();
    pretend.status = Status::AwaitingCustomer;
    let (after, _) = transition(&pretend, Event::Resolved { by: "old-owner".into() }).unwrap();
    let record = TurnRecord {
        tenant,
        customer: customer_id,
        conversation: receipt.conversation_id,
        new_conversation: false,
        before: stale,
        after: ConversationState { version: 1, ..after },
        events: vec![Event::Resolved { by: "old-owner".into() }],
        inbound: None,
        replies: vec![],
        escalation: None,
        approval: None,
        agent: None,
        close_escalations: false,
        claim_escalation: None,
        decided_approval: None,
        snapshot_every: 100,
    };
    let err = store::commit_turn(&db.pool, &record).await.unwrap_err();
    assert!(matches!(err, StoreError::VersionConflict { expected: 0 }), "{err}");
    let loaded = store::load(&db.pool, tenant, customer_id).await.unwrap();
    assert_eq!((loaded.state.status, loaded.state.version), (Status::AwaitingCustomer, 2));
}

#[tokio::test]
async fn snapshots_bound_the_events_replayed_on_rehydration() {
    let db = TestDb::new().await;
    let tenant = db.tenant("snapshots", MergePolicy::Manual).await.id;
    let config = RuntimeConfig { snapshot_every: 4, ..RuntimeConfig::default() };
    let runtime = runtime_with(&db, Arc::new(EchoBrain), config).await;
    for i in 0..5 {
        runtime.submit(email(tenant, "snap@example.com", &format!("s-{i}"), "hi")).await.unwrap();
    }
    runtime.shutdown().await;
    let customer_id = customer(&db, tenant, "snap@example.com").await;
    assert_eq!(count(&db, tenant, "SELECT count(*) FROM conversation_snapshots").await, 2, "at versions 4 and 8");
    let loaded = fte::conversation::store::load(&db.pool, tenant, customer_id).await.unwrap();
    assert_eq!(loaded.state.version, 10);
    assert_eq!(loaded.events_replayed, 2, "only the events after the v8 snapshot");
    assert_eq!(loaded.state.customer_messages, 5);
}

#[tokio::test]
async fn escalated_conversations_get_no_ai_reply_and_humans_see_the_messages() {
    let db = TestDb::new().await;
    let tenant = db.tenant("escalate", MergePolicy::Manual).await.id;
    let runtime = runtime_with(&db, Arc::new(EchoBrain), RuntimeConfig::default()).await;
    let r = runtime.submit(email(tenant, "e@example.com", "x-1", "I want to talk to a human please")).await.unwrap();
    assert_eq!(r.replies.len(), 1, "the holding reply");
    let r = runtime.submit(email(tenant, "e@example.com", "x-2", "hello? anyone?")).await.unwrap();
    assert!(r.replies.is_empty(), "no AI reply while escalated");
    let customer_id = customer(&db, tenant, "e@example.com").await;
    let (_, state) = runtime.inspect(tenant, customer_id).await.unwrap();
    assert_eq!((state.status, state.customer_messages), (Status::Escalated, 2));
    assert_eq!(count(&db, tenant, "SELECT count(*) FROM escalations WHERE reason = 'human_requested'").await, 1);
    assert_eq!(
        count(
            &db,
            tenant,
            "SELECT count(*) FROM outbox WHERE topic = 'fte.escalations' AND payload->>'reason' = 'human_requested'"
        )
        .await,
        1
    );
    assert_eq!(count(&db, tenant, "SELECT count(*) FROM messages WHERE author = 'ai'").await, 0);
    // A human claims and resolves it; a new message reopens it for the AI.
    runtime.apply(tenant, customer_id, fte::conversation::Event::HumanClaimed { by: "sam".into() }).await.unwrap();
    // A human reply needs its message written too: not on this path (yet),
    // so it is refused rather than recorded without effect.
    let reply = fte::conversation::Event::HumanReplied { reply_id: fte::domain::MessageId::new(), by: "sam".into() };
    let refused = runtime.apply(tenant, customer_id, reply).await.unwrap_err();
    assert!(refused.to_string().contains("not supported"), "{refused}");
    runtime.apply(tenant, customer_id, fte::conversation::Event::Resolved { by: "sam".into() }).await.unwrap();
    assert_eq!(count(&db, tenant, "SELECT count(*) FROM escalations WHERE status = 'resolved'").await, 1);
    let refused = runtime.apply(tenant, customer_id, fte::conversation::Event::InactivityTimeout).await;
    assert!(refused.is_err(), "a resolved conversation cannot time out");
    let r = runtime.submit(email(tenant, "e@example.com", "x-3", "new question")).await.unwrap();
    assert_eq!(r.replies.len(), 1);
    assert_eq!(count(&db, tenant, "SELECT count(*) FROM messages WHERE author = 'ai'").await, 1);
    runtime.shutdown().await;
}

#[tokio::test]
async fn committed_outbox_rows_left_by_a_crash_are_published_at_start_up() {
    let db = TestDb::new().await;
    let tenant = db.tenant("outbox", MergePolicy::Manual).await.id;
    let runtime = runtime_with(&db, Arc::new(EchoBrain), RuntimeConfig::default()).await;
    let receipt = runtime.submit(email(tenant, "o@example.com", "o-1", "hi")).await.unwrap();
    runtime.shutdown().await;
    // As if the process died between commit and publish.
    let mut tx = begin_tenant(&db.pool, tenant).await.unwrap();
    sqlx::query("UPDATE outbox SET published_at = NULL").execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
    let runtime = runtime_with(&db, Arc::new(EchoBrain), RuntimeConfig::default()).await;
    let records = collect_outbound(&runtime, Channel::Email, 1).await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].payload["message_id"], receipt.replies[0].to_string());
    // Marked published right after the publish was acknowledged.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while count(&db, tenant, "SELECT count(*) FROM outbox WHERE published_at IS NULL").await > 0 {
        assert!(tokio::time::Instant::now() < deadline, "outbox row never marked published");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    runtime.shutdown().await;
}

#[tokio::test]
async fn a_quiet_customer_is_resolved_after_the_inactivity_timeout() {
    let db = TestDb::new().await;
    let tenant = db.tenant("quiet", MergePolicy::Manual).await.id;
    let config = RuntimeConfig {
        inactivity_timeout: Duration::from_millis(500),
        sweep_interval: Duration::from_millis(200),
        ..RuntimeConfig::default()
    };
    let runtime = runtime_with(&db, Arc::new(EchoBrain), config).await;
    runtime.submit(email(tenant, "q@example.com", "q-1", "hi")).await.unwrap();
    let customer_id = customer(&db, tenant, "q@example.com").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, state) = runtime.inspect(tenant, customer_id).await.unwrap();
        if state.status == Status::Resolved {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "still {:?}", state.status);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        count(&db, tenant, "SELECT count(*) FROM conversation_events WHERE event_type = 'inactivity_timeout'").await,
        1
    );
    runtime.shutdown().await;
}

/// A runtime that gives a message up after 3 lasting failures, retrying
/// at once.
fn gives_up_after_three() -> RuntimeConfig {
    RuntimeConfig {
        router: fte::actors::RouterConfig {
            max_attempts: 3,
            retry_backoff: Duration::from_millis(5),
            ..Default::default()
        },
        ..RuntimeConfig::default()
    }
}

/// Fails every turn whose message contains "poison".
struct FailsOnPoison;

impl Brain for FailsOnPoison {
    fn name(&self) -> &'static str {
        "fails-on-poison"
    }

    fn turn<'a>(&'a self, input: TurnInput<'a>) -> BrainFuture<'a> {
        Box::pin(async move {
            if input.message.contains("poison") {
                return Err(fte::brain::BrainError::Failed("cannot handle this".into()));
            }
            Ok(EchoBrain::decide(&input))
        })
    }
}

#[tokio::test]
async fn a_message_that_keeps_failing_is_handed_to_humans_with_an_apology_and_the_customer_flows_on() {
    let db = TestDb::new().await;
    let tenant = db.tenant("poison", MergePolicy::Manual).await.id;
    let runtime = runtime_with(&db, Arc::new(FailsOnPoison), gives_up_after_three()).await;
    let err = runtime.submit(email(tenant, "p@example.com", "p-1", "this is poison")).await.unwrap_err();
    match err {
        fte::runtime::SubmitError::Failed(failed) => assert_eq!(failed.attempts, 3),
        other => panic!("expected a final failure, got {other}"),
    }
    assert_eq!(runtime.stats().failed, 3, "each attempt's actor failed and was replaced");
    assert_eq!(count(&db, tenant, "SELECT count(*) FROM messages WHERE external_id = 'p-1'").await, 1, "stored once");
    assert_eq!(count(&db, tenant, "SELECT count(*) FROM escalations WHERE reason = 'processing_failure'").await, 1);
    assert_eq!(
        count(
            &db,
            tenant,
            "SELECT count(*) FROM messages WHERE author = 'system' AND body LIKE 'Sorry, something went wrong%'"
        )
        .await,
        1,
        "the customer got one apology"
    );
    // The customer's next message flows (to the humans, who now own it).
    let next = runtime.submit(email(tenant, "p@example.com", "p-2", "hello?")).await.unwrap();
    assert!(next.replies.is_empty());
    let customer_id = customer(&db, tenant, "p@example.com").await;
    let (_, state) = runtime.inspect(tenant, customer_id).await.unwrap();
    assert_eq!(state.status, Status::Escalated);
    runtime.shutdown().await;
}

#[tokio::test]
async fn an_expiry_for_an_older_version_is_refused_so_a_customer_who_just_wrote_keeps_the_conversation() {
    let db = TestDb::new().await;
    let tenant = db.tenant("expiry", MergePolicy::Manual).await.id;
    let customer_id = customer(&db, tenant, "late@example.com").await;
    let args = fte::actors::conversation::ConversationActorArgs {
        tenant,
        customer: customer_id,
        deps: deps(&db),
        queued: Default::default(),
    };
    let (actor, _) = Actor::spawn(None, ConversationActor, args).await.unwrap();
    send(&actor, customer_id, email(tenant, "late@example.com", "l-1", "first")).await;
    // The sweeper saw version 2; the customer writes again (version 4)
    // before the expiry arrives.
    send(&actor, customer_id, email(tenant, "late@example.com", "l-2", "still here")).await;
    let expire = |version: u64| {
        let (tx, rx) = tokio::sync::oneshot::channel();
        actor.cast(ConversationActorMessage::Expire { version, reply: RpcReplyPort::from(tx) }).unwrap();
        rx
    };
    let refused = expire(2).await.unwrap();
    assert!(refused.is_err(), "a stale expiry must be refused");
    assert_eq!(count(&db, tenant, "SELECT count(*) FROM conversations WHERE state = 'awaiting_customer'").await, 1);
    // An expiry for the current version goes through.
    assert_eq!(expire(4).await.unwrap(), Ok(5));
    assert_eq!(count(&db, tenant, "SELECT count(*) FROM conversations WHERE state = 'resolved'").await, 1);
    actor.stop(None);
}

/// Panics on every turn whose message contains "kaboom".
struct AlwaysPanics;

impl Brain for AlwaysPanics {
    fn name(&self) -> &'static str {
        "always-panics"
    }

    fn turn<'a>(&'a self, input: TurnInput<'a>) -> BrainFuture<'a> {
        Box::pin(async move {
            if input.message.contains("kaboom") {
                panic!("this message breaks the turn every time");
            }
            Ok(EchoBrain::decide(&input))
        })
    }
}

#[tokio::test]
async fn a_message_whose_turn_panics_every_time_is_given_up_after_max_attempts() {
    let db = TestDb::new().await;
    let tenant = db.tenant("panics", MergePolicy::Manual).await.id;
    let runtime = runtime_with(&db, Arc::new(AlwaysPanics), gives_up_after_three()).await;
    let err = runtime.submit(email(tenant, "k@example.com", "k-1", "kaboom")).await.unwrap_err();
    match err {
        fte::runtime::SubmitError::Failed(failed) => {
            assert_eq!(failed.attempts, 3);
            assert!(failed.last_error.contains("panicked"), "{}", failed.last_error);
        }
        other => panic!("expected a final failure, got {other}"),
    }
    assert_eq!(count(&db, tenant, "SELECT count(*) FROM escalations WHERE reason = 'processing_failure'").await, 1);
    runtime.shutdown().await;
}

/// Echoes, recording how many turns run at once.
#[derive(Default)]
struct CountsConcurrency {
    now: std::sync::atomic::AtomicUsize,
    peak: std::sync::atomic::AtomicUsize,
}

impl Brain for CountsConcurrency {
    fn name(&self) -> &'static str {
        "counts-concurrency"
    }

    fn turn<'a>(&'a self, input: TurnInput<'a>) -> BrainFuture<'a> {
        Box::pin(async move {
            let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
            self.peak.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(30)).await;
            self.now.fetch_sub(1, Ordering::SeqCst);
            Ok(EchoBrain::decide(&input))
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turns_in_progress_are_bounded_by_the_pool_size_and_a_larger_backlog_queues_without_failing() {
    let db = TestDb::new().await;
    let tenant = db.tenant("admission", MergePolicy::Manual).await.id;
    let brain = Arc::new(CountsConcurrency::default());
    // Four connections, an acquire timeout far shorter than the backlog
    // takes: 60 customers at once must queue for admission, not the pool.
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(2))
        .connect(&db.url)
        .await
        .unwrap();
    let runtime = fte::runtime::Runtime::start(pool, brain.clone(), RuntimeConfig::default()).await.unwrap();
    let submits = (0..60).map(|n| {
        let runtime = Arc::clone(&runtime);
        async move { runtime.submit(email(tenant, &format!("c{n}@example.com"), &format!("a-{n}"), "hi")).await }
    });
    let results = futures::future::join_all(submits).await;
    let failed: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(failed.is_empty(), "{failed:?}");
    let peak = brain.peak.load(Ordering::SeqCst);
    assert!((2..=4).contains(&peak), "at most the pool's 4 turns at once, got {peak}");
    assert_eq!(runtime.stats().spawn_failures, 0);
    runtime.shutdown().await;
}
