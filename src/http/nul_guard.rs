//! PostgreSQL text cannot hold the NUL character, so an API request body
//! carrying one (raw, or as the JSON escape `\u0000`) is refused up front
//! with a 400 problem, instead of failing deep in a write.

use super::problem::Problem;
use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Bodies larger than this are left to the routes' own limits.
const MAX_SCANNED_BYTES: usize = 1024 * 1024;

fn carries_nul(bytes: &[u8]) -> bool {
    bytes.contains(&0) || bytes.windows(6).any(|w| w.eq_ignore_ascii_case(b"\\u0000"))
}

pub async fn layer(request: Request, next: Next) -> Response {
    if !request.uri().path().starts_with("/api/") {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_SCANNED_BYTES).await {
        Ok(b) => b,
        Err(_) => {
            return Problem::new(
                axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                format!("the body is over {MAX_SCANNED_BYTES} bytes"),
            )
            .into_response();
        }
    };
    if carries_nul(&bytes) {
        return Problem::bad_request("text may not contain the NUL character").into_response();
    }
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

#[cfg(test)]
mod tests {
    use super::carries_nul;

    #[test]
    fn finds_raw_and_escaped_nul() {
        assert!(carries_nul(b"{\"body\": \"a\\u0000b\"}"));
        assert!(carries_nul(b"{\"body\": \"a\\U0000b\"}"));
        assert!(carries_nul(b"a\0b"));
        assert!(!carries_nul(b"{\"body\": \"a\\u00e9b\"}"));
    }
}
