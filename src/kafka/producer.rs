//! The producer every role uses: idempotent, `acks=all` set explicitly
//! (librdkafka's default differs), keyed; `send` waits for the broker's
//! acknowledgement and surfaces every failure to the caller, who decides
//! whether to retry (librdkafka already retries transient errors within
//! `delivery.timeout.ms`). `enqueue` splits a send in two: the record is
//! queued now, in call order (librdkafka keeps that order per partition,
//! idempotence keeps it across retries), and the acknowledgement is awaited
//! later, so a caller can keep many records in flight without reordering
//! them.

use super::envelope::Envelope;
use super::{KafkaConnection, KafkaError};
use rdkafka::error::{KafkaError as RdKafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use std::future::Future;
use std::time::Duration;

/// How long a send waits for room in librdkafka's local queue.
const QUEUE_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct KafkaProducer {
    inner: FutureProducer,
}

/// Where a record landed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delivered {
    pub partition: i32,
    pub offset: i64,
}

impl KafkaProducer {
    pub fn new(connection: &KafkaConnection) -> Result<Self, KafkaError> {
        let inner: FutureProducer = connection
            .client_config()
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("max.in.flight.requests.per.connection", "5")
            .set("delivery.timeout.ms", "30000")
            .set("linger.ms", "2")
            .set("compression.type", "none")
            .set("client.id", "fte")
            .create()
            .map_err(KafkaError::Config)?;
        Ok(Self { inner })
    }

    /// Sends one record and waits until the broker has it.
    pub async fn send_bytes(&self, topic: &str, key: &str, payload: &[u8]) -> Result<Delivered, KafkaError> {
        self.enqueue(topic, key, payload).await?.await
    }

    /// Queues one record now (waiting up to [`QUEUE_TIMEOUT`] while
    /// librdkafka's local queue is full) and returns the acknowledgement to
    /// await.
    pub async fn enqueue(
        &self,
        topic: &str,
        key: &str,
        payload: &[u8],
    ) -> Result<impl Future<Output = Result<Delivered, KafkaError>> + Send + use<>, KafkaError> {
        let fail = |error| KafkaError::Produce { topic: topic.into(), error };
        let deadline = tokio::time::Instant::now() + QUEUE_TIMEOUT;
        let queued = loop {
            match self.inner.send_result(FutureRecord::to(topic).key(key).payload(payload)) {
                Ok(queued) => break queued,
                Err((error @ RdKafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _))
                    if tokio::time::Instant::now() >= deadline =>
                {
                    return Err(fail(error));
                }
                Err((RdKafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err((error, _)) => return Err(fail(error)),
            }
        };
        let topic = topic.to_string();
        Ok(async move {
            match queued.await {
                Ok(Ok(delivery)) => Ok(Delivered { partition: delivery.partition, offset: delivery.offset }),
                Ok(Err((error, _))) => Err(KafkaError::Produce { topic, error }),
                Err(_) => Err(KafkaError::Produce { topic, error: RdKafkaError::Canceled }),
            }
        })
    }

    pub async fn send(&self, topic: &str, key: &str, envelope: &Envelope) -> Result<Delivered, KafkaError> {
        self.send_bytes(topic, key, &envelope.to_bytes()).await
    }

    /// Waits for buffered records (shutdown).
    pub fn flush(&self, timeout: Duration) -> Result<(), KafkaError> {
        self.inner.flush(timeout).map_err(|error| KafkaError::Produce { topic: "*".into(), error })
    }
}
