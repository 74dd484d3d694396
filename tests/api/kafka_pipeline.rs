//! The runtime over Kafka (the real broker `make test` starts): a message
//! enters on its channel's inbound topic, the identity router keys it by
//! customer onto `fte.tickets.incoming`, a worker's actor answers, and the
//! reply leaves on the channel's outbound topic as a CloudEvent. Poison
//! records go to `fte.dlq` and the pipeline keeps flowing; a customer who
//! writes on two channels is one conversation.

use crate::common::{TestDb, kafka_brokers, wait_tenant_count};
use fte::crm::MergePolicy;
use fte::db::begin_tenant;
use fte::domain::{Channel, EmailAddress, Identifier, InboundMessage, PhoneNumber, TenantId};
use fte::kafka::{Envelope, EventType, KafkaConnection, KafkaProducer, Topics};
use rdkafka::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::Duration;

const TOKEN: &str = "kafka-inject";

struct Deployment {
    addr: SocketAddr,
    topics: Topics,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn deploy(db: &TestDb) -> Deployment {
    let brokers = kafka_brokers();
    let prefix = format!("p{}.", uuid::Uuid::new_v4().simple());
    let args = [
        "--database-url",
        &db.url,
        "--http-addr",
        "127.0.0.1:0",
        "--kafka-brokers",
        &brokers,
        "--kafka-topic-prefix",
        &prefix,
        "--kafka-session-timeout-ms",
        "6000",
        "--inject-api-token",
        TOKEN,
    ];
    let settings = crate::common::serve_settings(&args);
    let topics = Topics::from_settings(&settings.kafka);
    let running = crate::common::start_app(&settings).await;
    Deployment { addr: running.addr, topics, _stop: running.stop }
}

/// Reads `topic` from the start until `want` records arrived.
async fn read_topic(topic: &str, want: usize) -> Vec<(Option<String>, Vec<u8>)> {
    read_topic_matching(topic, want, |_| true).await
}

/// Reads `topic` from the start until `want` records whose payload
/// satisfies `keep` arrived; returns those.
async fn read_topic_matching(topic: &str, want: usize, keep: impl Fn(&[u8]) -> bool) -> Vec<(Option<String>, Vec<u8>)> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", kafka_brokers())
        .set("group.id", format!("reader-{}", uuid::Uuid::new_v4().simple()))
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while out.len() < want {
        let msg = tokio::time::timeout_at(deadline, consumer.recv()).await.expect("records in time").unwrap();
        if !keep(msg.payload().unwrap_or_default()) {
            continue;
        }
        out.push((
            msg.key().map(|k| String::from_utf8_lossy(k).to_string()),
            msg.payload().unwrap_or_default().to_vec(),
        ));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_flows_through_kafka_and_its_reply_leaves_on_the_outbound_topic() {
    let db = TestDb::new().await;
    let tenant = db.tenant("kafka", MergePolicy::Manual).await.id;
    let d = deploy(&db).await;
    let body = json!({
        "tenant_id": tenant.to_string(), "channel": "email", "external_id": "k-1",
        "from": "kim@example.com", "body": "How do I export a report?"
    });
    let resp = reqwest::Client::new()
        .post(format!("http://{}/api/v1/inbound", d.addr))
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 202, "queued on the inbound topic");
    let queued: Value = resp.json().await.unwrap();
    assert_eq!(queued["topic"], d.topics.inbound(Channel::Email));

    wait_tenant_count(
        &db,
        tenant,
        "SELECT count(*) FROM messages WHERE direction = 'outbound'",
        1,
        Duration::from_secs(60),
    )
    .await;
    let records = read_topic(&d.topics.outbound(Channel::Email), 1).await;
    let env = Envelope::parse(&records[0].1).unwrap();
    assert_eq!(env.kind, EventType::Outbound.as_str());
    assert_eq!(env.tenant().unwrap(), tenant);
    assert_eq!(env.data["recipient"]["value"], "kim@example.com");
    let mut tx = begin_tenant(&db.pool, tenant).await.unwrap();
    let reply_id: uuid::Uuid =
        sqlx::query_scalar("SELECT id FROM messages WHERE direction = 'outbound'").fetch_one(&mut *tx).await.unwrap();
    assert_eq!(env.data["message_id"], reply_id.to_string());
    // The turn was measured on fte.metrics.
    let metrics = read_topic(&d.topics.metrics(), 1).await;
    let m = Envelope::parse(&metrics[0].1).unwrap();
    assert_eq!(m.kind, EventType::Metrics.as_str());
    assert_eq!((m.data["channel"].as_str(), m.data["escalated"].as_bool()), (Some("email"), Some(false)));
    assert!(m.data["latency_ms"].as_u64().is_some(), "{}", m.data);
    // The ticket on fte.tickets.incoming was keyed by the customer.
    let customer: uuid::Uuid = sqlx::query_scalar("SELECT id FROM customers").fetch_one(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
    let tickets = read_topic(&d.topics.tickets(), 1).await;
    assert_eq!(tickets[0].0.as_deref(), Some(customer.to_string().as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_goes_to_the_dlq_and_the_pipeline_keeps_flowing_and_two_channels_are_one_conversation() {
    let db = TestDb::new().await;
    let tenant = db.tenant("kafka", MergePolicy::Manual).await.id;
    let d = deploy(&db).await;
    let producer = KafkaProducer::new(&KafkaConnection::plaintext(kafka_brokers())).unwrap();
    // Garbage, then an event of the wrong type, on the email inbound topic.
    producer.send_bytes(&d.topics.inbound(Channel::Email), "x", b"\xff not json").await.unwrap();
    let wrong = Envelope::new(EventType::Metrics, "/test", tenant, None, &json!({"latency_ms": 1})).unwrap();
    producer.send(&d.topics.inbound(Channel::Email), "x", &wrong).await.unwrap();

    // A well-formed message for a tenant that does not exist.
    let ghost_tenant = TenantId::new();
    let ghost = InboundMessage {
        tenant_id: ghost_tenant,
        channel: Channel::Email,
        external_id: "ghost-1".into(),
        sender: Identifier::Email(EmailAddress::parse("nobody@example.com").unwrap()),
        identifiers: vec![],
        display_name: None,
        subject: None,
        body: "hello".into(),
        received_at: chrono::Utc::now(),
        metadata: Value::Null,
    };
    let env = Envelope::new(EventType::Inbound, "/test", ghost_tenant, None, &ghost).unwrap();
    producer.send(&d.topics.inbound(Channel::Email), "x", &env).await.unwrap();

    // Then a customer writes by email (with their phone in the signature)…
    let email = InboundMessage {
        tenant_id: tenant,
        channel: Channel::Email,
        external_id: "gmail-1".into(),
        sender: Identifier::Email(EmailAddress::parse("marisol@vientoapps.io").unwrap()),
        identifiers: vec![Identifier::Phone(PhoneNumber::parse("+1 202 555 0147").unwrap())],
        display_name: Some("Marisol Ortega".into()),
        subject: Some("Webhook signature".into()),
        body: "What is the signature computed over?".into(),
        received_at: chrono::Utc::now(),
        metadata: Value::Null,
    };
    let env = Envelope::new(EventType::Inbound, "/test", tenant, None, &email).unwrap();
    producer.send(&d.topics.inbound(Channel::Email), "marisol@vientoapps.io", &env).await.unwrap();
    wait_tenant_count(
        &db,
        tenant,
        "SELECT count(*) FROM messages WHERE direction = 'outbound'",
        1,
        Duration::from_secs(60),
    )
    .await;
    // …and later on WhatsApp.
    let whatsapp = InboundMessage {
        channel: Channel::Whatsapp,
        external_id: "SM-2".into(),
        sender: Identifier::Whatsapp(PhoneNumber::parse("whatsapp:+12025550147").unwrap()),
        identifiers: vec![],
        subject: None,
        body: "Do we lose events while our server is down?".into(),
        ..email.clone()
    };
    let env = Envelope::new(EventType::Inbound, "/test", tenant, None, &whatsapp).unwrap();
    producer.send(&d.topics.inbound(Channel::Whatsapp), "+12025550147", &env).await.unwrap();
    wait_tenant_count(
        &db,
        tenant,
        "SELECT count(*) FROM messages WHERE direction = 'outbound'",
        2,
        Duration::from_secs(60),
    )
    .await;

    wait_tenant_count(&db, tenant, "SELECT count(*) FROM customers", 1, Duration::from_secs(60)).await;
    wait_tenant_count(&db, tenant, "SELECT count(*) FROM conversations", 1, Duration::from_secs(60)).await;
    wait_tenant_count(&db, tenant, "SELECT state_version FROM conversations", 4, Duration::from_secs(60)).await;
    let mut tx = begin_tenant(&db.pool, tenant).await.unwrap();
    let channels: Vec<String> =
        sqlx::query_scalar("SELECT channel FROM messages WHERE direction = 'inbound' ORDER BY created_at")
            .fetch_all(&mut *tx)
            .await
            .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(channels, ["email", "whatsapp"]);

    // The three poison records are in the DLQ with their reasons (besides
    // the replies the dispatcher could not deliver: this tenant has no
    // channel accounts).
    let poison = |p: &[u8]| serde_json::from_slice::<Value>(p).is_ok_and(|v| v["kind"] != "delivery_failed");
    let dead = read_topic_matching(&d.topics.dlq(), 3, poison).await;
    let reasons: Vec<String> = dead
        .iter()
        .map(|(_, payload)| serde_json::from_slice::<Value>(payload).unwrap()["reason"].as_str().unwrap().to_string())
        .collect();
    assert!(reasons[0].contains("not a JSON CloudEvent"), "{reasons:?}");
    assert!(reasons[1].contains("expected event type fte.inbound.v1"), "{reasons:?}");
    assert!(reasons[2].contains("identity resolution refused"), "{reasons:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_worker_and_dispatcher_run_as_separate_processes() {
    let db = TestDb::new().await;
    let tenant = db.tenant("roles", MergePolicy::Manual).await.id;
    let brokers = kafka_brokers();
    let prefix = format!("r{}.", uuid::Uuid::new_v4().simple());
    let env = [
        ("KAFKA_BROKERS", brokers.as_str()),
        ("KAFKA_TOPIC_PREFIX", prefix.as_str()),
        ("KAFKA_SESSION_TIMEOUT_MS", "6000"),
        ("INJECT_API_TOKEN", TOKEN),
    ];
    let (mut worker, worker_addr) = crate::common::spawn_role("worker", &db.url, &env);
    let (mut dispatcher, _) = crate::common::spawn_role("dispatcher", &db.url, &env);
    let (mut api, api_addr) = crate::common::spawn_role("api", &db.url, &env);

    let body = json!({
        "tenant_id": tenant.to_string(), "channel": "email", "external_id": "r-1",
        "from": "ro@example.com", "body": "Hello from the api role"
    });
    let client = reqwest::Client::new();
    let resp =
        client.post(format!("http://{api_addr}/api/v1/inbound")).bearer_auth(TOKEN).json(&body).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 202);
    wait_tenant_count(
        &db,
        tenant,
        "SELECT count(*) FROM messages WHERE direction = 'outbound'",
        1,
        Duration::from_secs(60),
    )
    .await;
    // The worker takes no messages over HTTP: only the api role does.
    let resp = client
        .post(format!("http://{worker_addr}/api/v1/inbound"))
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    // The worker's health reports its consumer groups' lag, which drains to 0.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let health: Value =
            client.get(format!("http://{worker_addr}/health")).send().await.unwrap().json().await.unwrap();
        assert_eq!(health["checks"]["kafka"]["status"], "ok", "{health}");
        let lag = &health["checks"]["kafka"]["detail"]["consumer_lag"];
        let conversations = lag[format!("{prefix}fte-conversations")].as_i64().expect("conversation group lag");
        let identity = lag[format!("{prefix}fte-identity")].as_i64().expect("identity group lag");
        if conversations == 0 && identity == 0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "lag stays at {lag}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    for child in [&mut api, &mut worker, &mut dispatcher] {
        assert!(
            std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success()
        );
        assert!(crate::common::wait_exit(child, Duration::from_secs(30)).success());
    }
}

#[tokio::test]
async fn the_split_roles_refuse_to_start_without_a_broker() {
    let db = TestDb::new().await;
    for role in ["api", "worker", "dispatcher"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_fte"))
            .arg(role)
            .env("DATABASE_URL", &db.url)
            .env("HTTP_ADDR", "127.0.0.1:0")
            .env_remove("KAFKA_BROKERS")
            .output()
            .unwrap();
        assert!(!out.status.success(), "{role} started without a broker");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("needs KAFKA_BROKERS"),
            "{role}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_ticket_record_causes_no_second_reply() {
    let db = TestDb::new().await;
    let tenant = db.tenant("redeliver", MergePolicy::Manual).await.id;
    let d = deploy(&db).await;
    let customer = fte::crm::resolve_customer(
        &db.pool,
        tenant,
        &[Identifier::Email(EmailAddress::parse("twice@example.com").unwrap())],
        None,
    )
    .await
    .unwrap()
    .customer_id;
    let ticket = fte::domain::TicketMessage {
        customer_id: customer,
        message: InboundMessage {
            tenant_id: tenant,
            channel: Channel::Email,
            external_id: "dup-1".into(),
            sender: Identifier::Email(EmailAddress::parse("twice@example.com").unwrap()),
            identifiers: vec![],
            display_name: None,
            subject: None,
            body: "once".into(),
            received_at: chrono::Utc::now(),
            metadata: Value::Null,
        },
    };
    // The same record twice on fte.tickets.incoming, as a broker may hand
    // out an offset again after a rebalance.
    let producer = KafkaProducer::new(&KafkaConnection::plaintext(kafka_brokers())).unwrap();
    let env = Envelope::new(EventType::Ticket, "/test", tenant, None, &ticket).unwrap();
    for _ in 0..2 {
        producer.send(&d.topics.tickets(), &customer.to_string(), &env).await.unwrap();
    }
    // A later message proves both copies were consumed before we count.
    let later = fte::domain::TicketMessage {
        message: InboundMessage { external_id: "dup-2".into(), body: "after".into(), ..ticket.message.clone() },
        ..ticket.clone()
    };
    let env = Envelope::new(EventType::Ticket, "/test", tenant, None, &later).unwrap();
    producer.send(&d.topics.tickets(), &customer.to_string(), &env).await.unwrap();
    wait_tenant_count(
        &db,
        tenant,
        "SELECT count(*) FROM messages WHERE external_id = 'dup-2'",
        1,
        Duration::from_secs(60),
    )
    .await;
    wait_tenant_count(
        &db,
        tenant,
        "SELECT count(*) FROM messages WHERE direction = 'outbound'",
        2,
        Duration::from_secs(60),
    )
    .await;
    wait_tenant_count(
        &db,
        tenant,
        "SELECT count(*) FROM messages WHERE external_id = 'dup-1'",
        1,
        Duration::from_secs(60),
    )
    .await;
    wait_tenant_count(&db, tenant, "SELECT state_version FROM conversations", 4, Duration::from_secs(60)).await;
}

/// Slow (100 ms a turn) for messages containing "slow".
struct SlowBrain;

impl fte::brain::Brain for SlowBrain {
    fn name(&self) -> &'static str {
        "slow"
    }

    fn turn<'a>(&'a self, input: fte::brain::TurnInput<'a>) -> fte::brain::BrainFuture<'a> {
        Box::pin(async move {
            if input.message.contains("slow") {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Ok(fte::brain::EchoBrain::decide(&input))
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backed_up_partition_is_paused_and_does_not_stall_the_others() {
    use rdkafka::producer::{FutureProducer, FutureRecord};
    let db = TestDb::new().await;
    let tenant = db.tenant("pause", MergePolicy::Manual).await.id;
    let topics = Topics { prefix: format!("b{}.", uuid::Uuid::new_v4().simple()), ..Topics::default() };
    let config = fte::runtime::RuntimeConfig {
        router: fte::actors::RouterConfig { max_in_flight: 2, ..Default::default() },
        ..Default::default()
    };
    let transport = fte::runtime::Transport::Kafka(fte::runtime::KafkaTransport {
        connection: KafkaConnection::plaintext(kafka_brokers()),
        topics: topics.clone(),
        session_timeout_ms: 6000,
        max_poll_interval_ms: 15000,
    });
    let runtime = fte::runtime::Runtime::start_with(db.pool.clone(), std::sync::Arc::new(SlowBrain), config, transport)
        .await
        .unwrap();
    let resolve = |address: &'static str| {
        let pool = db.pool.clone();
        async move {
            let id = Identifier::Email(EmailAddress::parse(address).unwrap());
            fte::crm::resolve_customer(&pool, tenant, &[id], None).await.unwrap().customer_id
        }
    };
    let (busy, quick) = (resolve("busy@example.com").await, resolve("quick@example.com").await);
    let ticket = |customer, address: &str, ext: String, body: &str| {
        let t = fte::domain::TicketMessage {
            customer_id: customer,
            message: InboundMessage {
                tenant_id: tenant,
                channel: Channel::Email,
                external_id: ext,
                sender: Identifier::Email(EmailAddress::parse(address).unwrap()),
                identifiers: vec![],
                display_name: None,
                subject: None,
                body: body.into(),
                received_at: chrono::Utc::now(),
                metadata: Value::Null,
            },
        };
        Envelope::new(EventType::Ticket, "/test", tenant, None, &t).unwrap().to_bytes()
    };
    // Wait until the worker has its partitions, then fill partition 0 with
    // 20 slow turns of one customer and put one quick message on partition 1.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let producer: FutureProducer = ClientConfig::new().set("bootstrap.servers", kafka_brokers()).create().unwrap();
    let send = |partition: i32, key: String, payload: Vec<u8>| {
        let producer = producer.clone();
        let topic = topics.tickets();
        async move {
            let record = FutureRecord::to(&topic).partition(partition).key(&key).payload(&payload);
            producer.send(record, Duration::from_secs(10)).await.map_err(|(e, _)| e).unwrap();
        }
    };
    for i in 0..20 {
        send(0, busy.to_string(), ticket(busy, "busy@example.com", format!("busy-{i}"), "slow please")).await;
    }
    // Once the backlog is being worked on (and the router's queue is full),
    // the quick customer writes.
    wait_tenant_count(
        &db,
        tenant,
        "SELECT count(*) FROM messages WHERE external_id = 'busy-0'",
        1,
        Duration::from_secs(60),
    )
    .await;
    send(1, quick.to_string(), ticket(quick, "quick@example.com", "quick-1".into(), "quick")).await;

    wait_tenant_count(
        &db,
        tenant,
        "SELECT count(*) FROM messages WHERE external_id = 'quick-1'",
        1,
        Duration::from_secs(60),
    )
    .await;
    let mut tx = begin_tenant(&db.pool, tenant).await.unwrap();
    let busy_done: i64 = sqlx::query_scalar("SELECT count(*) FROM messages WHERE external_id LIKE 'busy-%'")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    // Without pausing, the consume loop would sit blocked behind the
    // backlog and read the quick message only when ~16 of 20 were done.
    assert!(busy_done <= 8, "the quick customer waited behind the backlog ({busy_done} of 20 done first)");
    // And the backlog still completes, in order.
    wait_tenant_count(
        &db,
        tenant,
        "SELECT count(*) FROM messages WHERE external_id LIKE 'busy-%'",
        20,
        Duration::from_secs(60),
    )
    .await;
    wait_tenant_count(&db, tenant, "SELECT state_version FROM conversations WHERE customer_id = (SELECT customer_id FROM customer_identifiers WHERE value = 'busy@example.com')", 40, Duration::from_secs(60)).await;
    runtime.shutdown().await;
}
