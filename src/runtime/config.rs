//! What the conversation runtime is started with (`RuntimeConfig`): the
//! in-process bus's size, the routers' and the supervisor's settings, the
//! turn's thresholds, the background jobs' intervals; its defaults, and the
//! configuration the `serve` role's flags describe.

use crate::actors::{RouterConfig, SupervisorConfig};
use crate::channels::slack::SlackProfiles;
use crate::config::RuntimeSettings;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    pub partitions: usize,
    pub partition_capacity: usize,
    pub router: RouterConfig,
    pub supervisor: SupervisorConfig,
    pub approval_threshold: f32,
    pub snapshot_every: u64,
    pub inactivity_timeout: Duration,
    pub sweep_interval: Duration,
    pub relay_interval: Duration,
    pub outbound_capacity: usize,
    /// How long shutdown waits for in-flight turns.
    pub drain_timeout: Duration,
    /// Turns in progress at once in this process; `None`: as many as the
    /// database pool has connections (a turn holds at most one at a time).
    pub turn_concurrency: Option<usize>,
    /// Where turns are counted (the process's `/metrics`).
    pub metrics: Arc<crate::metrics::Metrics>,
    /// How often the retention job runs; `None`: it does not run here.
    pub retention_interval: Option<Duration>,
    /// Reads a Slack sender's profile (email, name) before their message is
    /// resolved to a customer (`channels::slack::SlackProfiles`), here or in the Kafka
    /// identity router.
    pub slack_profiles: Arc<SlackProfiles>,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            partitions: 12,
            partition_capacity: 1024,
            router: RouterConfig::default(),
            supervisor: SupervisorConfig::default(),
            approval_threshold: 0.65,
            snapshot_every: 100,
            inactivity_timeout: Duration::from_secs(24 * 3600),
            sweep_interval: Duration::from_secs(60),
            relay_interval: Duration::from_secs(1),
            outbound_capacity: 65_536,
            drain_timeout: Duration::from_secs(30),
            turn_concurrency: None,
            metrics: Arc::default(),
            retention_interval: None,
            slack_profiles: Arc::default(),
        }
    }
}

impl RuntimeConfig {
    /// The configuration the `serve` role's flags describe, draining for
    /// `drain_timeout` on shutdown; the rest keeps its default.
    pub fn from_settings(settings: &RuntimeSettings, drain_timeout: Duration) -> Self {
        let defaults = RuntimeConfig::default();
        RuntimeConfig {
            partitions: settings.runtime_partitions.max(1),
            router: RouterConfig { max_attempts: settings.max_delivery_attempts.max(1), ..defaults.router },
            supervisor: SupervisorConfig {
                idle_timeout: Duration::from_secs(settings.actor_idle_timeout_secs),
                max_active: settings.max_active_actors.max(1),
                tick: Duration::from_secs((settings.actor_idle_timeout_secs / 4).clamp(1, 30)),
            },
            approval_threshold: settings.approval_threshold,
            snapshot_every: settings.snapshot_every.max(1),
            inactivity_timeout: Duration::from_secs(settings.inactivity_timeout_secs),
            drain_timeout,
            turn_concurrency: settings.turn_concurrency,
            retention_interval: (settings.retention_interval_secs > 0)
                .then(|| Duration::from_secs(settings.retention_interval_secs)),
            ..defaults
        }
    }
}
