//! The operator console at `/admin`: server-sent HTML and one
//! dependency-free script (no build step) over the admin JSON API — the
//! escalation and approval queues, a conversation's transcript with
//! claim / hand back / resolve and a reply box, the resident actors and
//! channel health. Humans sign in with an API key and get a session cookie
//! (`sign_in`, `session_cookie`; sessions in `crate::auth::session`).
//! Every console response carries a strict Content-Security-Policy
//! (`default-src 'self'`, no inline code) and refuses to be framed.

mod pages;
pub mod session_cookie;
mod sign_in;

use crate::http::AppState;
use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use axum::routing::{get, post};

const CSP: &str = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'";

async fn security_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    response
}

/// The console's routes (merged into the service's router).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin", get(sign_in::index))
        .route("/admin/login", post(sign_in::login))
        .route("/admin/logout", post(sign_in::logout))
        .route("/admin/session", get(sign_in::whoami))
        .route("/admin/console.js", get(pages::script))
        .route("/admin/console.css", get(pages::stylesheet))
        .layer(axum::middleware::map_response(security_headers))
}
