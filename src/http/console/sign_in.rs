//! Signing in to and out of the console: `GET /admin` (the console when
//! the session cookie is live, else the sign-in form), `POST /admin/login`
//! (form field `api_key`: a live key starts a session, 303 to `/admin` with
//! the cookie; anything else re-renders the form with 401),
//! `POST /admin/logout` (ends the session, clears the cookie) and
//! `GET /admin/session` (who is signed in: name, role, tenant).
//! The login form is refused when the browser says it was posted from
//! another origin, so no other site can sign a visitor in to its own key.

use super::{pages, session_cookie};
use crate::auth::{Caller, authenticate, session};
use crate::http::AppState;
use crate::http::problem::Problem;
use axum::Json;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::header::{HOST, LOCATION, ORIGIN};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

/// `GET /admin`
pub async fn index(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(token) = session_cookie::token(&headers) else {
        return pages::sign_in(StatusCode::OK, None);
    };
    match session::resolve(&state.pool, token).await {
        Ok(Some(_)) => pages::shell(),
        Ok(None) => {
            let mut page = pages::sign_in(StatusCode::OK, Some("Your session has ended. Sign in again."));
            let (name, value) = session_cookie::clear(&state);
            page.headers_mut().insert(name, value);
            page
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot check a console session");
            pages::sign_in(StatusCode::SERVICE_UNAVAILABLE, Some("Cannot check your session right now; retry."))
        }
    }
}

/// Whether the browser posted the form from this site (no `Origin`: not a
/// browser form post, or a browser too old to say; the key still decides).
fn same_origin(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(ORIGIN).and_then(|v| v.to_str().ok()) else { return true };
    let origin = origin.trim_end_matches('/');
    let host = headers.get(HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let public = state.channels.public_url.as_deref().map(|u| u.trim_end_matches('/'));
    (!host.is_empty() && (origin == format!("http://{host}") || origin == format!("https://{host}")))
        || public.is_some_and(|p| p.eq_ignore_ascii_case(origin))
}

#[derive(Debug, Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    api_key: String,
}

/// `POST /admin/login`
pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<SignInForm>, FormRejection>,
) -> Response {
    if !same_origin(&state, &headers) {
        tracing::warn!("console sign-in posted from another origin refused");
        return pages::sign_in(StatusCode::FORBIDDEN, Some("Sign in from this site's own sign-in page."));
    }
    let key = form.map(|Form(f)| f.api_key).unwrap_or_default();
    let key = key.trim();
    if key.is_empty() {
        return pages::sign_in(StatusCode::UNAUTHORIZED, Some("Enter an API key."));
    }
    let unavailable = |e: crate::auth::AuthError| {
        tracing::error!(error = %e, "console sign-in failed");
        pages::sign_in(StatusCode::SERVICE_UNAVAILABLE, Some("Cannot sign in right now; retry."))
    };
    let caller = match authenticate(&state.pool, key).await {
        Ok(Some(caller)) => caller,
        Ok(None) => {
            tracing::info!("console sign-in refused: not a live API key");
            return pages::sign_in(
                StatusCode::UNAUTHORIZED,
                Some("That API key is not valid (or it was revoked or has expired)."),
            );
        }
        Err(e) => return unavailable(e),
    };
    let token = match session::start(&state.pool, &caller).await {
        Ok(token) => token,
        Err(e) => return unavailable(e),
    };
    let Some((name, cookie)) = session_cookie::set(&state, &token) else {
        return pages::sign_in(StatusCode::INTERNAL_SERVER_ERROR, Some("Cannot sign in right now; retry."));
    };
    let mut response = StatusCode::SEE_OTHER.into_response();
    response.headers_mut().insert(LOCATION, HeaderValue::from_static("/admin"));
    response.headers_mut().insert(name, cookie);
    response
}

/// `POST /admin/logout` (from the console, so with its header): 204.
pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, Problem> {
    if !session_cookie::csrf_ok(&Method::POST, &headers) {
        return Err(Problem::forbidden(format!(
            "signing out must carry the header X-Requested-With: {}",
            session_cookie::CSRF_VALUE
        )));
    }
    if let Some(token) = session_cookie::token(&headers) {
        session::end(&state.pool, token).await.map_err(|e| {
            tracing::error!(error = %e, "cannot end a console session");
            Problem::unavailable("cannot sign out right now; retry")
        })?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    let (name, value) = session_cookie::clear(&state);
    response.headers_mut().insert(name, value);
    Ok(response)
}

#[derive(Debug, Serialize)]
pub struct SignedIn {
    pub name: String,
    pub role: String,
    /// `None`: a global admin key (the console asks for a tenant).
    pub tenant: Option<String>,
    pub idle_timeout_secs: u64,
}

/// `GET /admin/session`
pub async fn whoami(caller: Caller) -> Json<SignedIn> {
    Json(SignedIn {
        name: caller.name,
        role: caller.role.to_string(),
        tenant: caller.tenant.map(|t| t.to_string()),
        idle_timeout_secs: session::IDLE_TIMEOUT.as_secs(),
    })
}
