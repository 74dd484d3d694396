//! Embedding requests of concurrent turns in one forward pass: a CPU
//! embedder (MiniLM) costs about 17 ms for one short query and under 8 ms
//! per query in a batch of four or more (timed on a 2-core machine), and
//! turns search one query each. [`Batching`] queues the requests for one
//! task, which, whenever one of its `lanes` is free, takes every request
//! waiting (up to `max_texts` texts) and embeds them together on that
//! lane: no request waits for a timer, and under load the batches grow by
//! themselves while the lanes are busy. With one lane per core and candle
//! single-threaded (`RAYON_NUM_THREADS=1`, see [`super::threads`]), passes
//! run side by side instead of one pass spinning on a thread barrier.
//! Results go back to each request in its own order.

use super::embedder::{EmbedError, EmbedFuture, Embedder};
use std::sync::{Arc, Mutex};
use tokio::sync::{Semaphore, mpsc, oneshot};

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
    lanes: usize,
    /// The running task's queue (one is started on first use, and again if
    /// the runtime it ran on has gone).
    queue: Mutex<Option<mpsc::Sender<Request>>>,
}

impl Batching {
    /// At most `max_texts` texts per pass, at most `lanes` passes at once.
    pub fn new(inner: Arc<dyn Embedder>, max_texts: usize, lanes: usize) -> Self {
        Batching { inner, max_texts: max_texts.max(1), lanes: lanes.max(1), queue: Mutex::new(None) }
    }

    fn queue(&self) -> mpsc::Sender<Request> {
        let mut queue = self.queue.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(sender) = queue.as_ref().filter(|s| !s.is_closed()) {
            return sender.clone();
        }
        let (sender, receiver) = mpsc::channel(QUEUE);
        tokio::spawn(run(Arc::clone(&self.inner), receiver, self.max_texts, self.lanes));
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

/// The batching task: when a lane is free, a batch of whatever is waiting.
async fn run(inner: Arc<dyn Embedder>, mut requests: mpsc::Receiver<Request>, max_texts: usize, lanes: usize) {
    let free = Arc::new(Semaphore::new(lanes));
    while let Some(first) = requests.recv().await {
        let Ok(lane) = Arc::clone(&free).acquire_owned().await else { return };
        // Gathered once a lane is free: what arrived meanwhile joins.
        let mut texts = first.texts.len();
        let mut batch = vec![first];
        while texts < max_texts {
            let Ok(next) = requests.try_recv() else { break };
            texts += next.texts.len();
            batch.push(next);
        }
        let inner = Arc::clone(&inner);
        tokio::spawn(async move {
            embed_batch(inner.as_ref(), batch).await;
            drop(lane);
        });
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
    #[derive(Default)]
    struct Slow {
        calls: AtomicUsize,
        running: AtomicUsize,
        peak: AtomicUsize,
    }

    impl Embedder for Slow {
        fn name(&self) -> &str {
            "slow-test"
        }

        fn embed<'a>(&'a self, texts: &'a [String]) -> EmbedFuture<'a> {
            Box::pin(async move {
                self.calls.fetch_add(1, Ordering::SeqCst);
                let running = self.running.fetch_add(1, Ordering::SeqCst) + 1;
                self.peak.fetch_max(running, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
                self.running.fetch_sub(1, Ordering::SeqCst);
                if texts.iter().any(|t| t == "fail") {
                    return Err(EmbedError::Request("refused".into()));
                }
                Ok(texts.iter().map(|t| vec![t.len() as f32, texts.len() as f32]).collect())
            })
        }
    }

    #[tokio::test]
    async fn concurrent_requests_share_a_pass_and_each_gets_its_own_vectors() {
        let slow = Arc::new(Slow::default());
        let batching = Arc::new(Batching::new(slow.clone(), 64, 1));
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
        let slow = Arc::new(Slow::default());
        let batching = Arc::new(Batching::new(slow.clone(), 2, 1));
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

    #[tokio::test]
    async fn passes_run_side_by_side_up_to_the_lanes() {
        for lanes in [1, 2] {
            let slow = Arc::new(Slow::default());
            let batching = Arc::new(Batching::new(slow.clone(), 1, lanes));
            let tasks: Vec<_> = (0..6)
                .map(|i| {
                    let b = Arc::clone(&batching);
                    tokio::spawn(async move { b.embed(&["x".repeat(i + 1)]).await })
                })
                .collect();
            for (i, task) in tasks.into_iter().enumerate() {
                assert_eq!(task.await.unwrap().unwrap()[0][0], (i + 1) as f32);
            }
            assert_eq!(slow.peak.load(Ordering::SeqCst), lanes, "{lanes} lanes");
        }
    }
}
