//! The console's session cookie `fte_session` (HttpOnly, SameSite=Strict,
//! Path=/, Secure when `FTE_PUBLIC_URL` is https): reading it, setting and
//! clearing it, and turning it into the admin API's `Caller`. A request
//! authenticated by the cookie that changes something (any method but GET
//! and HEAD) must also carry `X-Requested-With: fte-console`: a page on
//! another site cannot add that header without a CORS preflight, which this
//! server never grants, so a forged form or fetch is refused (403).

use crate::auth::{Caller, session};
use crate::http::AppState;
use crate::http::problem::Problem;
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, Method};

pub const NAME: &str = "fte_session";

/// The header (and its value) a cookie-authenticated change must carry.
pub const CSRF_HEADER: &str = "x-requested-with";
pub const CSRF_VALUE: &str = "fte-console";

/// The session token from the request's cookies, if there is one.
pub fn token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == NAME && !value.is_empty())
        .map(|(_, value)| value)
}

fn secure(state: &AppState) -> bool {
    state.channels.public_url.as_deref().is_some_and(|u| u.trim().to_ascii_lowercase().starts_with("https://"))
}

/// `Set-Cookie` carrying a new session.
pub fn set(state: &AppState, token: &str) -> Option<(axum::http::HeaderName, HeaderValue)> {
    let secure = if secure(state) { "; Secure" } else { "" };
    let value = format!("{NAME}={token}; HttpOnly; SameSite=Strict; Path=/{secure}");
    HeaderValue::from_str(&value).ok().map(|v| (SET_COOKIE, v))
}

const CLEAR: &str = "fte_session=; Max-Age=0; HttpOnly; SameSite=Strict; Path=/";
const CLEAR_SECURE: &str = "fte_session=; Max-Age=0; HttpOnly; SameSite=Strict; Path=/; Secure";

/// `Set-Cookie` removing the session cookie.
pub fn clear(state: &AppState) -> (axum::http::HeaderName, HeaderValue) {
    (SET_COOKIE, HeaderValue::from_static(if secure(state) { CLEAR_SECURE } else { CLEAR }))
}

/// Whether a cookie-authenticated request may go ahead: reads always, changes
/// only with the console's header.
pub fn csrf_ok(method: &Method, headers: &HeaderMap) -> bool {
    *method == Method::GET
        || *method == Method::HEAD
        || headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).is_some_and(|v| v.trim() == CSRF_VALUE)
}

/// The caller of a request without an `Authorization` header: its console
/// session, else 401.
pub async fn caller(state: &AppState, method: &Method, headers: &HeaderMap) -> Result<Caller, Problem> {
    let Some(token) = token(headers) else {
        return Err(Problem::unauthorized(
            "an API key is required (Authorization: Bearer fte_…), or a console session (sign in at /admin)",
        ));
    };
    if !csrf_ok(method, headers) {
        return Err(Problem::forbidden(format!(
            "a change made with a console session must carry the header X-Requested-With: {CSRF_VALUE}"
        )));
    }
    match session::resolve(&state.pool, token).await {
        Ok(Some(caller)) => Ok(caller),
        Ok(None) => Err(Problem::unauthorized("the console session has expired or ended; sign in again at /admin")),
        Err(e) => {
            tracing::error!(error = %e, "cannot check a console session");
            Err(Problem::unavailable("cannot check the session; retry"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        assert_eq!(token(&headers(&[("cookie", "a=1; fte_session=abc; b=2")])), Some("abc"));
        assert_eq!(token(&headers(&[("cookie", "a=1"), ("cookie", "fte_session=xyz")])), Some("xyz"));
        assert_eq!(token(&headers(&[("cookie", "fte_session=; other=1")])), None);
        assert_eq!(token(&headers(&[("cookie", "not_fte_session=abc")])), None);
        assert_eq!(token(&HeaderMap::new()), None);
        assert!(CLEAR.starts_with(&format!("{NAME}=;")) && CLEAR_SECURE.starts_with(CLEAR));
    }

    #[test]
    fn changes_need_the_console_header_and_reads_do_not() {
        let none = HeaderMap::new();
        let with = headers(&[("x-requested-with", "fte-console")]);
        let other = headers(&[("x-requested-with", "XMLHttpRequest")]);
        assert!(csrf_ok(&Method::GET, &none) && csrf_ok(&Method::HEAD, &none));
        for m in [Method::POST, Method::PATCH, Method::PUT, Method::DELETE] {
            assert!(!csrf_ok(&m, &none) && !csrf_ok(&m, &other) && csrf_ok(&m, &with), "{m}");
        }
    }
}
