//! The Slack Web API `fte eval` runs in-process: `users.info` only, in
//! Slack's wire format (`GET /api/users.info?user=U…` or a form `POST`,
//! `Authorization: Bearer xoxb-…`; `{"ok": true, "user": {"id", "team_id",
//! "name", "real_name", "profile": {"email", "real_name",
//! "display_name", …}}}`, `{"ok": false, "error": "user_not_found" |
//! "not_authed" | "invalid_auth"}`). A Slack ticket's message carries its
//! user id alone, as a Slack event does; the runtime reads the user's
//! email and name here, as it reads them from Slack, so a Slack ticket
//! reaches the customer of an earlier email only through that read. The
//! profile served is the ticket's customer: their email (when the ticket
//! gives one) and name. Owns `SlackApi`.

use super::EvalError;
use super::tickets::{EVAL_SLACK_TEAM, Ticket};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::routing::get;
use axum::{Form, Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::task::JoinHandle;

/// The bot token the runtime is given for this API.
pub const TOKEN: &str = "xoxb-0000000000-0000000000-evalslackapi";

/// The running API.
pub struct SlackApi {
    pub base_url: String,
    served: Arc<Served>,
    task: JoinHandle<()>,
}

struct Served {
    /// Slack user id → the `user` object.
    users: HashMap<String, Value>,
    reads: AtomicUsize,
}

#[derive(Deserialize)]
struct Args {
    user: Option<String>,
}

impl SlackApi {
    /// Starts the API on a free local port with the profiles of the
    /// tickets' Slack users (the first ticket of a user gives it).
    pub async fn start(tickets: &[Ticket]) -> Result<Self, EvalError> {
        let mut users = HashMap::new();
        for ticket in tickets {
            if let Some(seed) = ticket.slack_profile()? {
                let (id, email) = (seed.user.as_str(), seed.email.as_ref().map(|e| e.as_str()));
                users.entry(id.to_string()).or_insert_with(|| user_object(id, email, seed.name.as_deref()));
            }
        }
        let served = Arc::new(Served { users, reads: AtomicUsize::new(0) });
        let app = Router::new().route("/api/users.info", get(info_get).post(info_post)).with_state(Arc::clone(&served));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| EvalError::Runtime(format!("cannot start eval's Slack API: {e}")))?;
        let addr = listener.local_addr().map_err(|e| EvalError::Runtime(e.to_string()))?;
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!(error = %e, "eval's Slack API stopped");
            }
        });
        Ok(Self { base_url: format!("http://{addr}"), served, task })
    }

    /// How many `users.info` calls were answered.
    pub fn reads(&self) -> usize {
        self.served.reads.load(Ordering::Relaxed)
    }

    pub fn stop(self) {
        self.task.abort();
    }
}

/// A user object as `users.info` returns it for a full member.
fn user_object(id: &str, email: Option<&str>, name: Option<&str>) -> Value {
    let name = name.unwrap_or_default();
    let handle = email.and_then(|e| e.split('@').next()).unwrap_or(id);
    let mut profile = json!({
        "avatar_hash": "g0000000000a", "status_text": "", "status_emoji": "",
        "real_name": name, "display_name": "", "real_name_normalized": name, "display_name_normalized": "",
        "first_name": name.split(' ').next().unwrap_or_default(), "team": EVAL_SLACK_TEAM,
    });
    if let Some(email) = email {
        profile["email"] = email.into();
    }
    json!({
        "id": id, "team_id": EVAL_SLACK_TEAM, "name": handle, "deleted": false, "real_name": name,
        "tz": "Europe/Amsterdam", "tz_label": "Central European Time", "tz_offset": 3600,
        "profile": profile, "is_admin": false, "is_owner": false, "is_primary_owner": false,
        "is_restricted": false, "is_ultra_restricted": false, "is_bot": false, "is_app_user": false,
        "updated": 1_700_000_000, "has_2fa": false,
    })
}

async fn info_get(State(served): State<Arc<Served>>, headers: HeaderMap, Query(args): Query<Args>) -> Json<Value> {
    Json(answer(&served, &headers, args.user.as_deref()))
}

async fn info_post(State(served): State<Arc<Served>>, headers: HeaderMap, Form(args): Form<Args>) -> Json<Value> {
    Json(answer(&served, &headers, args.user.as_deref()))
}

/// Slack answers refusals with HTTP 200 and `ok: false`.
fn answer(served: &Served, headers: &HeaderMap, user: Option<&str>) -> Value {
    let bearer = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    match bearer {
        None => return json!({"ok": false, "error": "not_authed"}),
        Some(token) if token != TOKEN => return json!({"ok": false, "error": "invalid_auth"}),
        Some(_) => {}
    }
    served.reads.fetch_add(1, Ordering::Relaxed);
    match user.and_then(|u| served.users.get(u)) {
        Some(user) => json!({"ok": true, "user": user}),
        None => json!({"ok": false, "error": "user_not_found"}),
    }
}
