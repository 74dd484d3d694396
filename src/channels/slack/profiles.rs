//! The email and name behind a Slack user, read from Slack before identity
//! resolution, so a person who emailed before and now writes on Slack is
//! one customer. A Slack event names its author only by user id; the
//! workspace's profile of that user (`users.info`, with the
//! `users:read.email` scope) holds their email address and name.
//! `SlackProfiles::enrich` adds the profile's email to the message's
//! identifiers (kind email, beside the sender's Slack id) and its name as
//! the display name, and `resolve_customer` does the rest. Both ways a
//! message reaches resolution call it: `Runtime::submit` (embedded mode,
//! after the webhook's intake row is committed and acknowledged) and the
//! Kafka identity router. So the lookup never delays Slack's 3-second
//! acknowledgement.
//!
//! A profile is read only when needed: not for a Slack user whose customer
//! already has an email identifier, and not again while a read is cached
//! (per tenant, workspace and user, in memory, per process; a profile for
//! `profile_ttl`, a refusal about the user for `refusal_ttl`). A read waits
//! at most `timeout` (2 s). It never stops the message: on any failure the
//! message goes on with the Slack id only and the failure is logged, by
//! ids and Slack's error code, never with the email or the name. Failures
//! that concern the workspace pause its reads: a 429 or `ratelimited` for
//! the `Retry-After` Slack gave, a token that cannot read profiles
//! (`missing_scope`, revoked) for `refusal_ttl`, a timeout, network error
//! or Slack-side error for `failure_pause`. A user whose earlier read failed
//! is read again on a later message, once nothing is cached or paused.
//!
//! The bot token and the API's base URL are the workspace's Slack channel
//! account's (`bot_token_env`, `base_url`), or, for `fte eval`, one fixed
//! API (`SlackProfiles::for_one_api`). Owns `SlackProfiles` and
//! `SlackProfilesConfig`.

use super::{BotToken, SlackProfile, UsersError, parse_users_info_response, users_info_request};
use crate::channels::provider_http::{CallError, call};
use crate::channels::settings::AccountSettings;
use crate::crm::resolve_account;
use crate::db::begin_tenant;
use crate::domain::Provider;
use crate::domain::{Channel, Identifier, InboundMessage, SlackUserId, TenantId, clean_text};
use crate::telemetry::Redacted;
use dashmap::DashMap;
use sqlx::PgPool;
use std::fmt;
use std::time::Duration;
use tokio::time::Instant;

/// The longest wait for a `users.info` answer.
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(2);

/// The longest pause a `Retry-After` is honoured for.
const MAX_PAUSE: Duration = Duration::from_secs(15 * 60);

#[derive(Clone, Debug)]
pub struct SlackProfilesConfig {
    /// How long a profile read is used before it is read again.
    pub profile_ttl: Duration,
    /// How long a user Slack would not describe (`user_not_found`), or a
    /// workspace whose token cannot read profiles, is left alone.
    pub refusal_ttl: Duration,
    /// How long a workspace's reads pause after a timeout, a network error
    /// or a Slack-side error.
    pub failure_pause: Duration,
    /// The pause after a 429 that gave no `Retry-After`.
    pub default_retry_after: Duration,
    /// The longest wait for one answer.
    pub timeout: Duration,
    /// Cached users at most (expired ones are dropped first).
    pub max_entries: usize,
}

impl Default for SlackProfilesConfig {
    fn default() -> Self {
        Self {
            profile_ttl: Duration::from_secs(3600),
            refusal_ttl: Duration::from_secs(600),
            failure_pause: Duration::from_secs(30),
            default_retry_after: Duration::from_secs(30),
            timeout: LOOKUP_TIMEOUT,
            max_entries: 100_000,
        }
    }
}

/// Where the bot token and the API's base URL come from.
enum Credentials {
    /// The workspace's Slack channel account.
    Accounts,
    /// One API and token for every workspace.
    Fixed { base_url: String, token: BotToken },
}

/// What is known about one Slack user.
#[derive(Clone)]
enum Entry {
    Profile(SlackProfile),
    /// Their customer already has an email: nothing to read.
    Known,
    /// Slack would not describe them.
    Refused,
}

struct Cached {
    entry: Entry,
    until: Instant,
}

/// Tenant, workspace (`team_id`), Slack user id.
type UserKey = (TenantId, String, String);
/// Tenant, workspace.
type TeamKey = (TenantId, String);

/// Why no profile was read.
enum Failure {
    Timeout,
    Transport(CallError),
    Slack(UsersError),
}

/// Reads and caches Slack profiles; shared by every resolution in the
/// process.
pub struct SlackProfiles {
    http: reqwest::Client,
    config: SlackProfilesConfig,
    credentials: Credentials,
    users: DashMap<UserKey, Cached>,
    paused: DashMap<TeamKey, Instant>,
}

impl fmt::Debug for SlackProfiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlackProfiles")
            .field("config", &self.config)
            .field("fixed_api", &matches!(self.credentials, Credentials::Fixed { .. }))
            .field("cached_users", &self.users.len())
            .finish()
    }
}

impl Default for SlackProfiles {
    fn default() -> Self {
        Self::new(SlackProfilesConfig::default())
    }
}

impl SlackProfiles {
    /// Reads profiles with each workspace's channel account.
    pub fn new(config: SlackProfilesConfig) -> Self {
        Self::with(config, Credentials::Accounts)
    }

    /// Reads every profile from `base_url` with `token`, whatever the
    /// workspace (`fte eval`'s in-process Slack API).
    pub fn for_one_api(config: SlackProfilesConfig, base_url: &str, token: BotToken) -> Self {
        Self::with(config, Credentials::Fixed { base_url: base_url.to_string(), token })
    }

    fn with(config: SlackProfilesConfig, credentials: Credentials) -> Self {
        let http = crate::http_clients::http(crate::http_clients::HttpOptions {
            timeout: Some(config.timeout),
            connect_timeout: Some(config.timeout),
        })
        .unwrap_or_else(|_| reqwest::Client::new());
        Self { http, config, credentials, users: DashMap::new(), paused: DashMap::new() }
    }

    /// `message` with its Slack author's profile email among its
    /// identifiers and their name as its display name (when it has none).
    /// Any other message, or a Slack message whose profile cannot be read,
    /// comes back as it was.
    pub async fn enrich(&self, pool: &PgPool, mut message: InboundMessage) -> InboundMessage {
        if message.channel != Channel::Slack {
            return message;
        }
        let Identifier::Slack(user) = &message.sender else {
            return message;
        };
        let Some(team) = message.metadata.get("team_id").and_then(|t| t.as_str()).filter(|t| !t.is_empty()) else {
            return message;
        };
        let (user, team) = (user.clone(), team.to_string());
        let Some(profile) = self.profile(pool, message.tenant_id, &team, &user).await else {
            return message;
        };
        if let Some(email) = profile.email {
            let email = Identifier::Email(email);
            if !message.identifiers.contains(&email) {
                message.identifiers.push(email);
            }
        }
        if message.display_name.as_deref().is_none_or(|n| n.trim().is_empty()) {
            message.display_name = profile.name.map(|n| clean_text(&n).into_owned());
        }
        message
    }

    /// The profile of `user` in `team`, cached, read, or `None`.
    async fn profile(&self, pool: &PgPool, tenant: TenantId, team: &str, user: &SlackUserId) -> Option<SlackProfile> {
        let key: UserKey = (tenant, team.to_string(), user.as_str().to_string());
        let now = Instant::now();
        let cached = self.users.get(&key).filter(|c| c.until > now).map(|c| c.entry.clone());
        if let Some(entry) = cached {
            return match entry {
                Entry::Profile(p) => Some(p),
                Entry::Known | Entry::Refused => None,
            };
        }
        let team_key: TeamKey = (tenant, team.to_string());
        let paused = self.paused.get(&team_key).map(|until| *until).filter(|until| *until > now);
        if let Some(until) = paused {
            tracing::debug!(
                tenant_id = %tenant,
                team_id = team,
                slack_user_id = user.as_str(),
                paused_for_ms = until.saturating_duration_since(now).as_millis() as u64,
                "Slack profile reads paused for the workspace; going on with the Slack id only"
            );
            return None;
        }
        self.paused.remove_if(&team_key, |_, until| *until <= now);
        match has_email(pool, tenant, user).await {
            Ok(true) => {
                self.remember(key, Entry::Known, self.config.profile_ttl);
                return None;
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(
                tenant_id = %tenant,
                team_id = team,
                slack_user_id = user.as_str(),
                error = %e,
                "cannot tell whether the Slack user's customer has an email; reading the profile"
            ),
        }
        let (base_url, token) = match self.credentials(pool, tenant, team).await {
            Ok(c) => c,
            Err((reason, pause)) => {
                tracing::warn!(
                    tenant_id = %tenant,
                    team_id = team,
                    slack_user_id = user.as_str(),
                    reason,
                    "cannot read Slack profiles for the workspace; going on with the Slack id only"
                );
                self.pause(team_key, pause);
                return None;
            }
        };
        self.read(key, team_key, user, &base_url, &token).await
    }

    /// Reads `user`'s profile from Slack and remembers what it learnt: the
    /// profile, a refusal, or a pause for the workspace.
    async fn read(
        &self,
        key: UserKey,
        team_key: TeamKey,
        user: &SlackUserId,
        base_url: &str,
        token: &BotToken,
    ) -> Option<SlackProfile> {
        let started = Instant::now();
        let outcome = self.users_info(base_url, token, user).await;
        let elapsed_ms = started.elapsed().as_millis() as u64;
        let (tenant_id, slack_user_id) = (key.0.to_string(), user.as_str());
        let team = team_key.1.clone();
        let team = team.as_str();
        match outcome {
            Ok(profile) => {
                tracing::info!(
                    tenant_id,
                    team_id = team,
                    slack_user_id,
                    elapsed_ms,
                    email_found = profile.email.is_some(),
                    name_found = profile.name.is_some(),
                    "Slack profile read"
                );
                self.remember(key, Entry::Profile(profile.clone()), self.config.profile_ttl);
                Some(profile)
            }
            Err(Failure::Slack(e)) if e.rate_limited() => {
                let wait = e.retry_after().unwrap_or(self.config.default_retry_after).min(MAX_PAUSE);
                tracing::warn!(
                    tenant_id,
                    team_id = team,
                    slack_user_id,
                    retry_after_s = wait.as_secs(),
                    "Slack rate-limited users.info; going on with the Slack id only"
                );
                self.pause(team_key, wait);
                None
            }
            Err(Failure::Slack(e)) if e.auth_failed() => {
                tracing::warn!(
                    tenant_id,
                    team_id = team,
                    slack_user_id,
                    slack_error = e.slack_error(),
                    "the Slack token cannot read profiles (users.info needs users:read, emails users:read.email); going on with the Slack id only"
                );
                self.pause(team_key, self.config.refusal_ttl);
                None
            }
            Err(Failure::Slack(e)) if !e.retryable() => {
                tracing::warn!(
                    tenant_id,
                    team_id = team,
                    slack_user_id,
                    slack_error = e.slack_error(),
                    error = %Redacted(&e),
                    "Slack would not describe the user; going on with the Slack id only"
                );
                self.remember(key, Entry::Refused, self.config.refusal_ttl);
                None
            }
            Err(failure) => {
                let error = match &failure {
                    Failure::Timeout => format!("no answer within {} ms", self.config.timeout.as_millis()),
                    Failure::Transport(e) => Redacted(e).to_string(),
                    Failure::Slack(e) => Redacted(e).to_string(),
                };
                tracing::warn!(
                    tenant_id,
                    team_id = team,
                    slack_user_id,
                    elapsed_ms,
                    error,
                    "Slack profile read failed; going on with the Slack id only"
                );
                self.pause(team_key, self.config.failure_pause);
                None
            }
        }
    }

    /// One `users.info` call for `user`, within the configured timeout.
    async fn users_info(&self, base_url: &str, token: &BotToken, user: &SlackUserId) -> Result<SlackProfile, Failure> {
        let request = users_info_request(base_url, token, user).map_err(Failure::Slack)?;
        match tokio::time::timeout(self.config.timeout, call(&self.http, &request)).await {
            Err(_) => Err(Failure::Timeout),
            Ok(Err(e)) if is_timeout(&e) => Err(Failure::Timeout),
            Ok(Err(e)) => Err(Failure::Transport(e)),
            Ok(Ok(answer)) => {
                let retry_after = answer.retry_after_header();
                parse_users_info_response(user, answer.status, retry_after.as_deref(), &answer.body)
                    .map_err(Failure::Slack)
            }
        }
    }

    /// The base URL and bot token for `team`, or why there are none and
    /// how long to leave the workspace alone.
    async fn credentials(
        &self,
        pool: &PgPool,
        tenant: TenantId,
        team: &str,
    ) -> Result<(String, BotToken), (&'static str, Duration)> {
        let unusable = |reason| (reason, self.config.refusal_ttl);
        match &self.credentials {
            Credentials::Fixed { base_url, token } => Ok((base_url.clone(), token.clone())),
            Credentials::Accounts => {
                let account = resolve_account(pool, Provider::Slack, team)
                    .await
                    .map_err(|_| ("cannot read the channel account", self.config.failure_pause))?
                    .filter(|a| a.tenant_id == tenant)
                    .ok_or_else(|| unusable("no enabled Slack account of the tenant for the workspace"))?;
                let Ok(AccountSettings::Slack(settings)) = AccountSettings::parse(Provider::Slack, &account.config)
                else {
                    return Err(unusable("the Slack account's settings do not parse"));
                };
                let token = settings.bot_token_env.read().map_err(|_| unusable("the bot token is not set"))?;
                let token =
                    BotToken::new(token.expose()).map_err(|_| unusable("the bot token is not an xoxb- token"))?;
                Ok((settings.base_url, token))
            }
        }
    }

    fn remember(&self, key: UserKey, entry: Entry, ttl: Duration) {
        let now = Instant::now();
        if self.users.len() >= self.config.max_entries {
            self.users.retain(|_, c| c.until > now);
            if self.users.len() >= self.config.max_entries {
                self.users.clear();
            }
        }
        self.users.insert(key, Cached { entry, until: now + ttl });
    }

    fn pause(&self, team: TeamKey, wait: Duration) {
        let until = Instant::now() + wait;
        self.paused.entry(team).and_modify(|u| *u = (*u).max(until)).or_insert(until);
    }
}

/// Whether reqwest gave up waiting (its own timeout, set to the same
/// bound as the outer one).
fn is_timeout(e: &CallError) -> bool {
    match e {
        CallError::Transport(e) => e.is_timeout(),
        CallError::Build(_) => false,
    }
}

/// Whether `user`'s customer (if any) already has an email identifier.
async fn has_email(pool: &PgPool, tenant: TenantId, user: &SlackUserId) -> Result<bool, sqlx::Error> {
    let mut tx = begin_tenant(pool, tenant).await?;
    let known: bool = sqlx::query_scalar(
        "SELECT EXISTS (
           SELECT 1 FROM customer_identifiers s
             JOIN customer_identifiers e
               ON e.tenant_id = s.tenant_id AND e.customer_id = s.customer_id AND e.kind = 'email'
            WHERE s.tenant_id = $1 AND s.kind = 'slack' AND s.value = $2)",
    )
    .bind(tenant)
    .bind(user.as_str())
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(known)
}
