//! Gmail I/O (the rest of `channels::gmail` is pure): OAuth access
//! tokens from each mailbox's refresh token (cached until shortly before
//! they expire, refreshed once on a 401), Google's signing keys for push
//! tokens (cached, refetched once when a token names an unknown key), the
//! mailbox sync a push triggers (`users.history.list` from the stored
//! history id, or a resync of the recent INBOX when Gmail says that id is
//! too old; then `users.messages.get` for each new message), sending,
//! the reads that find a sent message again (`users.messages.list` by
//! `rfc822msgid:`, or of the sent mail to an address after a time, and
//! `users.messages.get?format=metadata` of chosen headers), and the
//! `users.watch` renewal before its 7-day expiry. In those reads a 2xx
//! that cannot be read is `Temporary`: it says nothing either way.

use super::cursor;
use super::{
    self as gmail, AccessToken, GmailApi, GmailNotification, HistoryOutcome, Jwks, OAuthClient, PushClaims,
    PushTokenVerifier,
};
use crate::channels::ProviderRequest;
use crate::channels::provider_http::{Answer, call};
use crate::channels::settings::{AccountSettings, GmailSettings};
use crate::crm::{ChannelAccount, provider_accounts};
use crate::domain::Provider;
use crate::domain::{EmailAddress, InboundMessage};
use crate::telemetry::Redacted;
use dashmap::DashMap;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Why a Gmail operation failed.
#[derive(Debug, thiserror::Error)]
pub enum GmailIoError {
    /// The push was not signed by the configured service account.
    #[error("push token refused: {0}")]
    Unauthenticated(String),
    /// Worth retrying later (network, throttling, Google 5xx, database).
    #[error("{0}")]
    Temporary(String),
    /// Will fail the same way again (bad settings, refused credentials).
    #[error("{0}")]
    Permanent(String),
}

impl GmailIoError {
    fn from_api(context: &str, e: gmail::ApiError) -> Self {
        if e.retryable() {
            Self::Temporary(format!("{context}: {e}"))
        } else {
            Self::Permanent(format!("{context}: {e}"))
        }
    }
}

/// How long Google's signing keys are trusted before being refetched.
const KEYS_TTL: Duration = Duration::from_secs(3600);
/// Messages fetched per push at most (the rest wait for the next).
const MAX_MESSAGES_PER_SYNC: usize = 25;

/// One step of a mailbox sync: the messages to take in, the history id to
/// store once they are, and whether the mailbox is caught up.
#[derive(Debug)]
pub struct MailboxBatch {
    pub messages: Vec<InboundMessage>,
    pub history_id: u64,
    pub complete: bool,
}

pub struct GmailClient {
    http: reqwest::Client,
    tokens: DashMap<Uuid, AccessToken>,
    keys: DashMap<String, (Jwks, Instant)>,
    /// One sync per mailbox at a time.
    locks: DashMap<Uuid, Arc<tokio::sync::Mutex<()>>>,
}

/// Whether a `users.messages.get` answer is JSON naming message `id`.
fn names_message(body: &[u8], id: &str) -> bool {
    serde_json::from_slice::<serde_json::Value>(body).is_ok_and(|v| v.get("id").and_then(|i| i.as_str()) == Some(id))
}

/// The Gmail settings of an account.
pub fn settings(account: &ChannelAccount) -> Result<GmailSettings, GmailIoError> {
    match AccountSettings::parse(Provider::Gmail, &account.config) {
        Ok(AccountSettings::Gmail(s)) => Ok(s),
        Ok(_) => Err(GmailIoError::Permanent("not a Gmail account".into())),
        Err(e) => Err(GmailIoError::Permanent(e.to_string())),
    }
}

impl GmailClient {
    pub fn new(http: reqwest::Client) -> Self {
        Self { http, tokens: DashMap::new(), keys: DashMap::new(), locks: DashMap::new() }
    }

    async fn call(&self, request: &ProviderRequest) -> Result<Answer, GmailIoError> {
        call(&self.http, request).await.map_err(|e| GmailIoError::Temporary(e.to_string()))
    }

    /// A valid access token for the mailbox (`fresh`: ignore the cache).
    pub async fn access_token(
        &self,
        account: &ChannelAccount,
        settings: &GmailSettings,
        fresh: bool,
    ) -> Result<AccessToken, GmailIoError> {
        let now = chrono::Utc::now();
        if !fresh && let Some(token) = self.tokens.get(&account.id).filter(|t| !t.needs_refresh(now)) {
            return Ok(token.clone());
        }
        let permanent = |e: &dyn std::fmt::Display| GmailIoError::Permanent(e.to_string());
        let secret = settings.client_secret_env.read().map_err(|e| permanent(&e))?;
        let refresh = settings.refresh_token_env.read().map_err(|e| permanent(&e))?;
        let client =
            OAuthClient::new(&settings.token_url, &settings.client_id, secret.expose()).map_err(|e| permanent(&e))?;
        let request = client.refresh_request(refresh.expose()).map_err(|e| permanent(&e))?;
        let answer = self.call(&request).await?;
        let token =
            gmail::parse_token_response(answer.status, answer.retry_after_header().as_deref(), &answer.body, now)
                .map_err(|e| {
                    if e.retryable() {
                        GmailIoError::Temporary(format!("token refresh: {e}"))
                    } else {
                        GmailIoError::Permanent(format!("token refresh: {e}"))
                    }
                })?;
        self.tokens.insert(account.id, token.clone());
        Ok(token)
    }

    /// Calls a Gmail API request built with a token; on 401 refreshes the
    /// token once and calls again.
    async fn authorized(
        &self,
        account: &ChannelAccount,
        settings: &GmailSettings,
        build: impl Fn(&AccessToken) -> Result<ProviderRequest, gmail::ApiError>,
    ) -> Result<Answer, GmailIoError> {
        let mut fresh = false;
        loop {
            let token = self.access_token(account, settings, fresh).await?;
            let request = build(&token).map_err(|e| GmailIoError::Permanent(e.to_string()))?;
            let answer = self.call(&request).await?;
            if answer.status == 401 && !fresh {
                fresh = true;
                continue;
            }
            return Ok(answer);
        }
    }

    async fn keys(&self, certs_url: &str, refetch: bool) -> Result<Jwks, GmailIoError> {
        if !refetch && let Some(entry) = self.keys.get(certs_url).filter(|entry| entry.1.elapsed() < KEYS_TTL) {
            return Ok(entry.0.clone());
        }
        let request = ProviderRequest {
            method: "GET",
            url: certs_url.to_string(),
            authorization: String::new(),
            content_type: "application/json",
            body: String::new(),
        };
        let answer = self.call(&request).await?;
        if answer.status != 200 {
            return Err(GmailIoError::Temporary(format!("Google's certs answered HTTP {}", answer.status)));
        }
        let keys = Jwks::parse(&answer.body).map_err(|e| GmailIoError::Temporary(format!("Google's certs: {e}")))?;
        self.keys.insert(certs_url.to_string(), (keys.clone(), Instant::now()));
        Ok(keys)
    }

    /// Checks a push's `Authorization` header against the account's
    /// audience and service account.
    pub async fn verify_push(
        &self,
        settings: &GmailSettings,
        authorization: Option<&str>,
    ) -> Result<PushClaims, GmailIoError> {
        let account = EmailAddress::parse(&settings.push_service_account)
            .map_err(|e| GmailIoError::Permanent(format!("push_service_account: {e}")))?;
        let verifier = PushTokenVerifier::new(&settings.push_audience, account);
        let now = chrono::Utc::now();
        let keys = self.keys(&settings.certs_url, false).await?;
        match verifier.verify_header(authorization, &keys, now) {
            Err(e) if e.is_unknown_key() => {
                let keys = self.keys(&settings.certs_url, true).await?;
                verifier.verify_header(authorization, &keys, now)
            }
            other => other,
        }
        .map_err(|e| GmailIoError::Unauthenticated(e.to_string()))
    }

    /// The mailbox's lock: one sync at a time.
    pub fn lock(&self, account: &ChannelAccount) -> Arc<tokio::sync::Mutex<()>> {
        self.locks.entry(account.id).or_default().clone()
    }

    /// The customer messages that arrived since the stored history id (or,
    /// without a usable one, in the last day of the INBOX), at most
    /// `MAX_MESSAGES_PER_SYNC` of them (whole history records), and the
    /// history id to store once they are taken in: the last record taken
    /// when more are waiting (`complete` false: sync again), else the
    /// mailbox's current one. Automated mail and the mailbox's own
    /// messages are left out (no loops).
    pub async fn new_messages(
        &self,
        pool: &PgPool,
        account: &ChannelAccount,
        settings: &GmailSettings,
        notification: &GmailNotification,
    ) -> Result<MailboxBatch, GmailIoError> {
        let api =
            GmailApi::new(&settings.base_url, &settings.user_id).map_err(|e| GmailIoError::Permanent(e.to_string()))?;
        let stored = cursor::load(pool, account).await.map_err(|e| GmailIoError::Temporary(e.to_string()))?;
        let mut ids: Vec<String> = Vec::new();
        let mut newest = notification.history_id;
        // The last history record taken, when the sync stops before the end.
        let mut stopped_at: Option<u64> = None;
        let mut resync = stored.history_id.is_none();
        if let Some(start) = stored.history_id {
            match self.walk_history(&api, account, settings, start, &mut ids, &mut newest).await? {
                Walk::Done => {}
                Walk::TooOld => resync = true,
                Walk::StoppedAt(record) => stopped_at = Some(record),
            }
        }
        if resync {
            tracing::info!(account_id = %account.id, "Gmail history unavailable; resyncing the recent INBOX");
            let answer = self.authorized(account, settings, |t| api.recent_inbox_list(t, None)).await?;
            let page =
                gmail::parse_message_list_response(answer.status, answer.retry_after_header().as_deref(), &answer.body)
                    .map_err(|e| GmailIoError::from_api("messages.list", e))?;
            for (id, _) in page.messages {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
        let mailbox = EmailAddress::parse(&account.address).map_err(|e| GmailIoError::Permanent(e.to_string()))?;
        let mut messages = Vec::new();
        for id in ids {
            let Some(one) = self.fetch(&api, account, settings, &id, &mailbox).await? else { continue };
            if stopped_at.is_none() {
                newest = newest.max(one.history_id);
            }
            messages.extend(one.message);
        }
        Ok(MailboxBatch { messages, history_id: stopped_at.unwrap_or(newest), complete: stopped_at.is_none() })
    }

    /// Walks the mailbox's history from `start`, adding the ids of messages
    /// added by others to `ids` and raising `newest` to each page's history
    /// id; stops between two records once `ids` holds a sync's worth.
    async fn walk_history(
        &self,
        api: &GmailApi,
        account: &ChannelAccount,
        settings: &GmailSettings,
        start: u64,
        ids: &mut Vec<String>,
        newest: &mut u64,
    ) -> Result<Walk, GmailIoError> {
        let mut page: Option<String> = None;
        loop {
            let answer = self.authorized(account, settings, |t| api.history_list(t, start, page.as_deref())).await?;
            let outcome =
                gmail::parse_history_response(answer.status, answer.retry_after_header().as_deref(), &answer.body)
                    .map_err(|e| GmailIoError::from_api("history.list", e))?;
            let p = match outcome {
                HistoryOutcome::TooOld => return Ok(Walk::TooOld),
                HistoryOutcome::Page(p) => p,
            };
            let mut last_record = None;
            for m in p.added {
                // Stop only between records, and only where the sync can
                // resume (the record's id is known).
                if ids.len() >= MAX_MESSAGES_PER_SYNC
                    && m.record != last_record
                    && let Some(record) = last_record
                {
                    return Ok(Walk::StoppedAt(record));
                }
                last_record = m.record;
                if !m.is_own() && !ids.contains(&m.id) {
                    ids.push(m.id);
                }
            }
            *newest = (*newest).max(p.history_id.unwrap_or(0));
            match p.next_page_token {
                Some(next) => page = Some(next),
                None => return Ok(Walk::Done),
            }
        }
    }

    /// Reads one message of a sync: `None` when Gmail no longer has it or
    /// cannot give it readably; else its history id and the customer
    /// message it makes, if it is one to answer.
    async fn fetch(
        &self,
        api: &GmailApi,
        account: &ChannelAccount,
        settings: &GmailSettings,
        id: &str,
        mailbox: &EmailAddress,
    ) -> Result<Option<FetchedOne>, GmailIoError> {
        let answer = self.authorized(account, settings, |t| api.message_get_raw(t, id)).await?;
        let fetched = match gmail::parse_message_response(
            answer.status,
            answer.retry_after_header().as_deref(),
            &answer.body,
        ) {
            Ok(m) => m,
            // Deleted between the notification and now.
            Err(e) if e.http_status() == Some(404) => return Ok(None),
            // Gmail answered for this very message, but its content
            // cannot be read: the same will happen at every push, so
            // it is skipped like an unreadable email, not allowed to
            // hold up the mail behind it. (An answer that does not
            // name the message, like a proxy's page, stops the sync.)
            Err(e @ gmail::ApiError::BadResponse(_)) if names_message(&answer.body, id) => {
                tracing::error!(account_id = %account.id, message = id, error = %Redacted(&e), "unreadable Gmail message skipped");
                return Ok(None);
            }
            Err(e) => return Err(GmailIoError::from_api("messages.get", e)),
        };
        let history_id = fetched.history_id.unwrap_or(0);
        let message = match gmail::EmailMessage::parse(fetched, mailbox) {
            Ok(email) => match email.ignore_reason() {
                Some(reason) => {
                    tracing::info!(account_id = %account.id, message = id, reason = ?reason, "email not answered");
                    None
                }
                None => Some(email.into_inbound_message(account.tenant_id, chrono::Utc::now())),
            },
            Err(e) => {
                tracing::warn!(account_id = %account.id, message = id, error = %Redacted(&e), "unreadable email skipped");
                None
            }
        };
        Ok(Some(FetchedOne { history_id, message }))
    }

    /// Sends a composed RFC 2822 message.
    pub async fn send(
        &self,
        account: &ChannelAccount,
        settings: &GmailSettings,
        raw: &str,
        thread_id: Option<&str>,
    ) -> Result<gmail::SentMessage, GmailIoError> {
        let api =
            GmailApi::new(&settings.base_url, &settings.user_id).map_err(|e| GmailIoError::Permanent(e.to_string()))?;
        let answer = self.authorized(account, settings, |t| api.send_message(t, raw, thread_id)).await?;
        gmail::parse_send_response(answer.status, answer.retry_after_header().as_deref(), &answer.body)
            .map_err(|e| GmailIoError::from_api("messages.send", e))
    }

    /// The ids and thread ids of the mailbox's messages (spam and trash
    /// included) whose `Message-ID` header is `message_id`: how a reply an
    /// interrupted send left is found.
    pub async fn find_by_message_id(
        &self,
        account: &ChannelAccount,
        settings: &GmailSettings,
        message_id: &str,
    ) -> Result<Vec<(String, Option<String>)>, GmailIoError> {
        let api =
            GmailApi::new(&settings.base_url, &settings.user_id).map_err(|e| GmailIoError::Permanent(e.to_string()))?;
        let answer = self.authorized(account, settings, |t| api.message_id_search(t, message_id)).await?;
        Ok(lookup_list(&answer)?.messages)
    }

    /// One page (newest first) of the mailbox's sent messages to `to`
    /// dated after `after`, spam and trash included; `page_token` is the
    /// previous page's `next_page_token`.
    pub async fn sent_to(
        &self,
        account: &ChannelAccount,
        settings: &GmailSettings,
        to: &EmailAddress,
        after: chrono::DateTime<chrono::Utc>,
        page_token: Option<&str>,
    ) -> Result<gmail::MessageListPage, GmailIoError> {
        let api =
            GmailApi::new(&settings.base_url, &settings.user_id).map_err(|e| GmailIoError::Permanent(e.to_string()))?;
        let answer = self.authorized(account, settings, |t| api.sent_to_search(t, to, after, page_token)).await?;
        lookup_list(&answer)
    }

    /// Message `id`'s labels, thread and the `headers` named; `None` when
    /// Gmail no longer has it (HTTP 404).
    pub async fn message_metadata(
        &self,
        account: &ChannelAccount,
        settings: &GmailSettings,
        id: &str,
        headers: &[&str],
    ) -> Result<Option<gmail::MessageMetadata>, GmailIoError> {
        let api =
            GmailApi::new(&settings.base_url, &settings.user_id).map_err(|e| GmailIoError::Permanent(e.to_string()))?;
        let answer = self.authorized(account, settings, |t| api.message_get_metadata(t, id, headers)).await?;
        match gmail::parse_message_metadata_response(
            answer.status,
            answer.retry_after_header().as_deref(),
            &answer.body,
        ) {
            Ok(m) => Ok(Some(m)),
            Err(e) if e.http_status() == Some(404) => Ok(None),
            Err(e @ gmail::ApiError::BadResponse(_)) => Err(GmailIoError::Temporary(format!("messages.get: {e}"))),
            Err(e) => Err(GmailIoError::from_api("messages.get", e)),
        }
    }

    /// Renews the push watch of every Gmail account that has a topic and
    /// whose watch is missing or has less than a day left.
    pub async fn renew_watches(&self, pool: &PgPool) {
        let accounts = match provider_accounts(pool, Provider::Gmail).await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list Gmail accounts for watch renewal");
                return;
            }
        };
        for account in accounts {
            if let Err(e) = self.renew_watch(pool, &account).await {
                tracing::warn!(account_id = %account.id, error = %Redacted(&e), "Gmail watch not renewed; will retry");
            }
        }
    }

    async fn renew_watch(&self, pool: &PgPool, account: &ChannelAccount) -> Result<(), GmailIoError> {
        let settings = settings(account)?;
        let Some(topic) = settings.topic_name.clone() else { return Ok(()) };
        let stored = cursor::load(pool, account).await.map_err(|e| GmailIoError::Temporary(e.to_string()))?;
        let now = chrono::Utc::now();
        if stored.watch_expires_at.is_some_and(|at| !gmail::watch_needs_renewal(at, now)) {
            return Ok(());
        }
        let api =
            GmailApi::new(&settings.base_url, &settings.user_id).map_err(|e| GmailIoError::Permanent(e.to_string()))?;
        let answer = self.authorized(account, &settings, |t| api.watch(t, &topic)).await?;
        let watch = gmail::parse_watch_response(answer.status, answer.retry_after_header().as_deref(), &answer.body)
            .map_err(|e| GmailIoError::from_api("watch", e))?;
        cursor::watched(pool, account, watch.expiration, watch.history_id)
            .await
            .map_err(|e| GmailIoError::Temporary(e.to_string()))?;
        tracing::info!(account_id = %account.id, expires_at = %watch.expiration, "Gmail watch renewed");
        Ok(())
    }
}

/// Reads a lookup's `messages.list` answer: an unreadable 2xx is `Temporary`.
fn lookup_list(answer: &Answer) -> Result<gmail::MessageListPage, GmailIoError> {
    match gmail::parse_message_list_response(answer.status, answer.retry_after_header().as_deref(), &answer.body) {
        Ok(page) => Ok(page),
        Err(e @ gmail::ApiError::BadResponse(_)) => Err(GmailIoError::Temporary(format!("messages.list: {e}"))),
        Err(e) => Err(GmailIoError::from_api("messages.list", e)),
    }
}

/// Renews watches at start-up and then every hour until shutdown.
pub async fn run_watch_renewal(
    client: Arc<GmailClient>,
    pool: PgPool,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        client.renew_watches(&pool).await;
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(3600)) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Where a walk through the mailbox's history ended.
enum Walk {
    /// At its last page.
    Done,
    /// Gmail no longer has history that old: resync the recent INBOX.
    TooOld,
    /// Early, after this record (a sync's worth of messages taken).
    StoppedAt(u64),
}

/// One message read in a sync.
struct FetchedOne {
    history_id: u64,
    /// The customer message, unless the email is not one to answer.
    message: Option<InboundMessage>,
}
