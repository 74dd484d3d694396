//! Embedding requests of concurrent turns in one forward pass: a CPU
//! embedder (MiniLM) costs about 17 ms for one short query and under 8 ms
//! per query in a batch of four or more (timed on a 2-core machine), and
//! turns search one query each. [`Batching`] queues
//! the requests for one task, which takes every request waiting when it is
//! free (up to `max_texts` texts) and embeds them together: no request
//! waits for a timer, and under load the batch grows by itself while the
//! previous one runs. Results go back to each request in its own order.

use super::embedder::{EmbedError, EmbedFuture, Embedder};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

/// Requests waiting for the batching task, at most.
const QUEUE: usize = 4096;

type Answer = Result<Vec<Vec<f32>>, EmbedError>;

struct Request {
    texts: Vec<String>,
    reply: oneshot::Sender<Answer>,
}

/// An embedder whose concurrent requests share forward passes.
pub struct Batching {
    inner: Arc<dyn Embedder>,
    max_texts: usize,
    /// The running task's queue (one is started on first use, and again if
    /// the runtime it ran on has gone).
    queue: Mutex<Option<mpsc::Sender<Request>>>,
}

impl Batching {
    pub fn new(inner: Arc<dyn Embedder>, max_texts: usize) -> Self {
        Batching { inner, max_texts: max_texts.max(1), queue: Mutex::new(None) }
    }

    fn queue(&self) -> mpsc::Sender<Request> {
        let mut queue = self.queue.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(sender) = queue.as_ref().filter(|s| !s.is_closed()) {
            return sender.clone();
        }
        let (sender, receiver) = mpsc::channel(QUEUE);
        tokio::spawn(run(Arc::clone(&self.inner), receiver, self.max_texts));
        *queue = Some(sender.clone());
        sender
    }
}

impl Embedder for Batching {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn embed<'a>(&'a self, texts: &'a [String]) -> EmbedFuture<'a> {
        Box::pin(async move {
            if texts.is_empty() {
                return Ok(Vec::new());
            }
            let (reply, answer) = oneshot::channel();
            let closed = || EmbedError::Request("the embedding queue stopped".into());
            self.queue().send(Request { texts: texts.to_vec(), reply }).await.map_err(|_| closed())?;
            answer.await.map_err(|_| closed())?
        })
    }
}

/// The batching task: one batch at a time, of whatever is waiting.
async fn run(inner: Arc<dyn Embedder>, mut requests: mpsc::Receiver<Request>, max_texts: usize) {
    while let Some(first) = requests.recv().await {
        let mut texts = first.texts.len();
        let mut batch = vec![first];
        while texts < max_texts {
            let Ok(next) = requests.try_recv() else { break };
            texts += next.texts.len();
            batch.push(next);
        }
        embed_batch(inner.as_ref(), batch).await;
    }
}

async fn embed_batch(inner: &dyn Embedder, batch: Vec<Request>) {
    let texts: Vec<String> = batch.iter().flat_map(|r| r.texts.iter().cloned()).collect();
    match inner.embed(&texts).await {
        Ok(vectors) if vectors.len() == texts.len() => {
            let mut vectors = vectors.into_iter();
            for request in batch {
                let own: Vec<Vec<f32>> = vectors.by_ref().take(request.texts.len()).collect();
                let _ = request.reply.send(Ok(own));
            }
        }
        Ok(vectors) => {
            let got = vectors.len();
            for request in batch {
                let _ = request.reply.send(Err(EmbedError::Count { expected: texts.len(), got }));
            }
        }
        Err(e) => {
            let error = e.to_string();
            for request in batch {
                let _ = request.reply.send(Err(EmbedError::Request(error.clone())));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// Embeds each text as `[its length, the batch's size]`, slowly, and
    /// counts its calls.
    struct Slow {
        calls: AtomicUsize,
    }

    impl Embedder for Slow {
        fn name(&self) -> &str {
            "slow-test"
        }

        fn embed<'a>(&'a self, texts: &'a [String]) -> EmbedFuture<'a> {
            Box::pin(async move {
                self.calls.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
                if texts.iter().any(|t| t == "fail") {
                    return Err(EmbedError::Request("refused".into()));
                }
                Ok(texts.iter().map(|t| vec![t.len() as f32, texts.len() as f32]).collect())
            })
        }
    }

    #[tokio::test]
    async fn concurrent_requests_share_a_pass_and_each_gets_its_own_vectors() {
        let slow = Arc::new(Slow { calls: AtomicUsize::new(0) });
        let batching = Arc::new(Batching::new(slow.clone(), 64));
        assert_eq!(batching.name(), "slow-test");
        let tasks: Vec<_> = (0..10)
            .map(|i| {
                let b = Arc::clone(&batching);
                tokio::spawn(async move {
                    let texts: Vec<String> = (0..=i % 3).map(|k| "x".repeat(i * 10 + k)).collect();
                    (texts.clone(), b.embed(&texts).await.unwrap())
                })
            })
            .collect();
        for task in tasks {
            let (texts, vectors) = task.await.unwrap();
            assert_eq!(vectors.len(), texts.len());
            for (t, v) in texts.iter().zip(&vectors) {
                assert_eq!(v[0], t.len() as f32, "each text gets its own vector, in order");
            }
        }
        let calls = slow.calls.load(Ordering::SeqCst);
        assert!(calls < 10, "ten concurrent requests made {calls} passes");
        assert_eq!(batching.embed(&[]).await.unwrap(), Vec::<Vec<f32>>::new());
    }

    #[tokio::test]
    async fn a_batch_is_capped_and_a_failure_reaches_every_request_in_it() {
        let slow = Arc::new(Slow { calls: AtomicUsize::new(0) });
        let batching = Arc::new(Batching::new(slow.clone(), 2));
        let one = |text: &str| {
            let b = Arc::clone(&batching);
            let text = text.to_string();
            tokio::spawn(async move { b.embed(&[text]).await })
        };
        let (a, b, c) = (one("a"), one("fail"), one("c"));
        let results = [a.await.unwrap(), b.await.unwrap(), c.await.unwrap()];
        assert!(results[1].is_err());
        assert!(results.iter().all(|r| r.as_ref().map_or(true, |v| v[0][1] <= 2.0)), "at most two texts a pass");
        assert!(slow.calls.load(Ordering::SeqCst) >= 2);
    }
}
