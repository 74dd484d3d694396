//! When to try a failed send again: exponential backoff with full jitter
//! (AWS architecture blog, "Exponential Backoff and Jitter"): attempt `n`
//! waits a random time in `[0, min(max, base·2ⁿ)]`, unless the provider
//! said how long to wait (`Retry-After`), which is honoured up to `max`.

use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    pub max_attempts: u32,
    pub base: Duration,
    pub max: Duration,
}

impl Backoff {
    /// The ceiling of the wait after failed attempt `attempt` (1-based).
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(30));
        self.base.saturating_mul(factor).min(self.max)
    }

    /// The wait after failed attempt `attempt`: `jitter` in [0, 1) picks a
    /// point below the ceiling; a provider's own delay wins.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>, jitter: f64) -> Duration {
        match retry_after {
            Some(wait) => wait.min(self.max),
            None => self.ceiling(attempt).mul_f64(jitter.clamp(0.0, 1.0)),
        }
    }

    /// Whether another attempt may follow attempt `attempt`.
    pub fn may_retry(&self, attempt: u32) -> bool {
        attempt < self.max_attempts
    }
}

/// A jitter value in [0, 1) (not for cryptography): 48 random bits of a
/// v4 UUID (its first six bytes; the version and variant bits lie after).
pub fn jitter() -> f64 {
    let b = uuid::Uuid::new_v4().into_bytes();
    let bits = u64::from_be_bytes([0, 0, b[0], b[1], b[2], b[3], b[4], b[5]]);
    bits as f64 / (1u64 << 48) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Backoff {
        Backoff { max_attempts: 4, base: Duration::from_millis(500), max: Duration::from_secs(5) }
    }

    #[test]
    fn ceilings_double_up_to_the_cap() {
        let b = policy();
        let got: Vec<u128> = (1..=6).map(|n| b.ceiling(n).as_millis()).collect();
        assert_eq!(got, vec![500, 1000, 2000, 4000, 5000, 5000]);
        assert_eq!(b.ceiling(u32::MAX), Duration::from_secs(5));
    }

    #[test]
    fn jitter_stays_below_the_ceiling_and_retry_after_wins() {
        let b = policy();
        for n in 1..10 {
            let d = b.delay(n, None, jitter());
            assert!(d <= b.ceiling(n), "{d:?}");
        }
        assert_eq!(b.delay(1, Some(Duration::from_secs(3)), 0.0), Duration::from_secs(3));
        assert_eq!(b.delay(1, Some(Duration::from_secs(60)), 0.0), Duration::from_secs(5));
        assert!(b.may_retry(3) && !b.may_retry(4));
        let j: Vec<f64> = (0..100).map(|_| jitter()).collect();
        assert!(j.iter().all(|x| (0.0..1.0).contains(x)));
        assert!(j.iter().any(|x| *x > 0.5) && j.iter().any(|x| *x < 0.5));
    }
}
