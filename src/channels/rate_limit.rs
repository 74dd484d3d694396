//! Per-tenant, per-channel rate limits: one token bucket per (tenant,
//! channel) and direction. Webhooks ask `try_take` and answer 429 with the
//! wait when the bucket is empty (providers retry); the dispatcher `take`s,
//! waiting its turn, so a tenant's burst of replies is spread out instead
//! of tripping the provider's own limits. Buckets live in memory, per
//! process: the limit is per pod.

use crate::domain::{Channel, TenantId};
use dashmap::DashMap;
use std::time::Duration;
use tokio::time::Instant;

/// A bucket of `burst` tokens refilled at `rate` per second.
#[derive(Clone, Debug)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
}

impl TokenBucket {
    pub fn new(rate: f64, burst: f64, now: Instant) -> Self {
        let burst = burst.max(1.0);
        Self { rate: rate.max(f64::MIN_POSITIVE), burst, tokens: burst, at: now }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.at = now;
    }

    /// Takes one token, or says how long until one is there.
    pub fn try_take(&mut self, now: Instant) -> Result<(), Duration> {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(((1.0 - self.tokens) / self.rate).min(3600.0)))
        }
    }
}

/// The buckets of one direction.
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: DashMap<(TenantId, Channel), TokenBucket>,
}

impl RateLimiter {
    pub fn new(rate_per_sec: f64, burst: f64) -> Self {
        Self { rate: rate_per_sec, burst, buckets: DashMap::new() }
    }

    pub fn try_take(&self, tenant: TenantId, channel: Channel) -> Result<(), Duration> {
        let now = Instant::now();
        self.buckets
            .entry((tenant, channel))
            .or_insert_with(|| TokenBucket::new(self.rate, self.burst, now))
            .try_take(now)
    }

    /// Waits until a token is free, then takes it.
    pub async fn take(&self, tenant: TenantId, channel: Channel) {
        while let Err(wait) = self.try_take(tenant, channel) {
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_bucket_allows_its_burst_then_its_rate() {
        let start = Instant::now();
        let mut b = TokenBucket::new(2.0, 3.0, start);
        for _ in 0..3 {
            b.try_take(start).unwrap();
        }
        let wait = b.try_take(start).unwrap_err();
        assert_eq!(wait, Duration::from_millis(500));
        assert!(b.try_take(start + Duration::from_millis(499)).is_err());
        b.try_take(start + Duration::from_millis(1000)).unwrap();
        // Idle time refills only up to the burst.
        let later = start + Duration::from_secs(60);
        for _ in 0..3 {
            b.try_take(later).unwrap();
        }
        assert!(b.try_take(later).is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn tenants_and_channels_have_separate_buckets_and_take_waits() {
        let limiter = RateLimiter::new(1.0, 1.0);
        let (a, b) = (TenantId::new(), TenantId::new());
        limiter.try_take(a, Channel::Email).unwrap();
        assert!(limiter.try_take(a, Channel::Email).is_err());
        limiter.try_take(a, Channel::Slack).unwrap();
        limiter.try_take(b, Channel::Email).unwrap();
        let before = Instant::now();
        limiter.take(a, Channel::Email).await;
        assert!(Instant::now() - before >= Duration::from_millis(999));
    }
}
