//! `MemoryTopic<T>`: one topic of the in-process bus: N bounded partitions,
//! each a FIFO with a single consumer.

use super::partition_of;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::mpsc;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("topic {0} is closed")]
pub struct TopicClosed(pub String);

pub type PartitionReceiver<T> = mpsc::Receiver<T>;

pub struct MemoryTopic<T> {
    name: String,
    senders: Mutex<Vec<mpsc::Sender<T>>>,
    receivers: Mutex<Vec<Option<mpsc::Receiver<T>>>>,
    next_offset: Vec<AtomicU64>,
}

impl<T: Send + 'static> MemoryTopic<T> {
    pub fn new(name: impl Into<String>, partitions: usize, capacity: usize) -> Self {
        let partitions = partitions.max(1);
        let (senders, receivers): (Vec<_>, Vec<_>) =
            (0..partitions).map(|_| mpsc::channel(capacity.max(1))).map(|(tx, rx)| (tx, Some(rx))).unzip();
        Self {
            name: name.into(),
            senders: Mutex::new(senders),
            receivers: Mutex::new(receivers),
            next_offset: (0..partitions).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn partitions(&self) -> usize {
        self.next_offset.len()
    }

    /// Appends a record to its key's partition, waiting while the partition
    /// is full. `make` receives the record's offset.
    pub async fn publish(&self, key: &[u8], make: impl FnOnce(u64) -> T) -> Result<(), TopicClosed> {
        let partition = partition_of(key, self.partitions());
        let sender = {
            let senders = self.senders.lock().map_err(|_| TopicClosed(self.name.clone()))?;
            senders.get(partition).cloned().ok_or_else(|| TopicClosed(self.name.clone()))?
        };
        let permit = sender.reserve().await.map_err(|_| TopicClosed(self.name.clone()))?;
        // Offsets are taken under the permit, so they are in send order.
        let offset = self.next_offset[partition].fetch_add(1, Ordering::SeqCst);
        permit.send(make(offset));
        Ok(())
    }

    /// Takes partition `p`'s consumer end (once).
    pub fn take_partition(&self, p: usize) -> Option<PartitionReceiver<T>> {
        self.receivers.lock().ok()?.get_mut(p)?.take()
    }

    /// Closes the topic for producers: consumers see the end once they
    /// have read what was published.
    pub fn close(&self) {
        if let Ok(mut senders) = self.senders.lock() {
            senders.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_key_always_lands_in_one_partition_in_order() {
        let topic = MemoryTopic::new("t", 4, 16);
        for i in 0..10u64 {
            topic.publish(b"customer-1", |offset| (offset, i)).await.unwrap();
        }
        let p = partition_of(b"customer-1", 4);
        let mut rx = topic.take_partition(p).unwrap();
        for i in 0..10u64 {
            assert_eq!(rx.recv().await.unwrap(), (i, i));
        }
        assert!(topic.take_partition(p).is_none(), "one consumer per partition");
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_partition_makes_the_producer_wait() {
        let topic = std::sync::Arc::new(MemoryTopic::new("t", 1, 2));
        topic.publish(b"k", |o| o).await.unwrap();
        topic.publish(b"k", |o| o).await.unwrap();
        let t = std::sync::Arc::clone(&topic);
        let blocked = tokio::spawn(async move { t.publish(b"k", |o| o).await });
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert!(!blocked.is_finished(), "third publish must wait for room");
        let mut rx = topic.take_partition(0).unwrap();
        assert_eq!(rx.recv().await, Some(0));
        blocked.await.unwrap().unwrap();
        topic.close();
        assert_eq!(rx.recv().await, Some(1));
        assert_eq!(rx.recv().await, Some(2));
        assert_eq!(rx.recv().await, None, "closed and drained");
    }
}
