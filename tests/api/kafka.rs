//! The Kafka building blocks against the real broker `make test` starts:
//! topics are created idempotently, and an enveloped record produced with
//! `acks=all` comes back intact to a consumer.

use crate::common::kafka_brokers;
use fte::domain::TenantId;
use fte::kafka::{Envelope, EventType, KafkaConnection, KafkaProducer, Topics, ensure_topics};
use rdkafka::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use std::time::Duration;

fn topics() -> Topics {
    Topics { prefix: format!("t{}.", uuid::Uuid::new_v4().simple()), ..Topics::default() }
}

#[tokio::test]
async fn topics_are_created_once_with_their_partition_counts() {
    let brokers = kafka_brokers();
    let topics = topics();
    let created = ensure_topics(&KafkaConnection::plaintext(&brokers), &topics, Duration::from_secs(10)).await.unwrap();
    assert_eq!(created.len(), topics.all().len(), "{created:?}");
    let again = ensure_topics(&KafkaConnection::plaintext(&brokers), &topics, Duration::from_secs(10)).await.unwrap();
    assert!(again.is_empty(), "second run creates nothing: {again:?}");

    let consumer: StreamConsumer = ClientConfig::new().set("bootstrap.servers", &brokers).create().unwrap();
    let metadata = consumer.fetch_metadata(None, Duration::from_secs(10)).unwrap();
    for (name, partitions) in topics.all() {
        let topic = metadata.topics().iter().find(|t| t.name() == name).unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(topic.partitions().len() as i32, partitions, "{name}");
    }
    assert!(topics.all().iter().any(|(n, p)| n.ends_with("fte.tickets.incoming") && *p == 12));
}

#[tokio::test]
async fn an_enveloped_record_round_trips_through_the_broker() {
    let brokers = kafka_brokers();
    let topics = topics();
    ensure_topics(&KafkaConnection::plaintext(&brokers), &topics, Duration::from_secs(10)).await.unwrap();
    let producer = KafkaProducer::new(&KafkaConnection::plaintext(&brokers)).unwrap();
    let tenant = TenantId::new();
    let env =
        Envelope::new(EventType::Metrics, "/fte/test", tenant, None, &serde_json::json!({"latency_ms": 12})).unwrap();
    let delivered = producer.send(&topics.metrics(), "k1", &env).await.unwrap();
    assert!(delivered.offset >= 0);

    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", format!("g-{}", uuid::Uuid::new_v4().simple()))
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer.subscribe(&[&topics.metrics()]).unwrap();
    let msg =
        tokio::time::timeout(Duration::from_secs(30), consumer.recv()).await.expect("a record within 30 s").unwrap();
    assert_eq!(msg.key(), Some(&b"k1"[..]));
    let back = Envelope::parse(msg.payload().unwrap()).unwrap();
    assert_eq!(back, env);
    assert_eq!(back.tenant().unwrap(), tenant);
}
