//! The console's documents, compiled into the binary from `assets/`: the
//! sign-in page (the only one with server-side content, an error message,
//! HTML-escaped here), the app shell (static; the script fills it from the
//! JSON API), the script and the stylesheet. No inline script or style
//! anywhere, so the strict Content-Security-Policy of `super` holds.

use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

const SIGN_IN_HTML: &str = include_str!("assets/sign_in.html");
const CONSOLE_HTML: &str = include_str!("assets/console.html");
const CONSOLE_JS: &str = include_str!("assets/console.js");
const CONSOLE_CSS: &str = include_str!("assets/console.css");

/// Where the sign-in page shows its error.
const ERROR_SLOT: &str = "<!--error-->";

pub use crate::html_escape::escape;

fn no_store(status: StatusCode, body: String) -> Response {
    (status, [(header::CACHE_CONTROL, "no-store")], Html(body)).into_response()
}

/// The sign-in form, with an error above it when a sign-in failed.
pub fn sign_in(status: StatusCode, error: Option<&str>) -> Response {
    let slot = match error {
        Some(e) => format!("<p class=\"error\" role=\"alert\" data-testid=\"sign-in-error\">{}</p>", escape(e)),
        None => String::new(),
    };
    no_store(status, SIGN_IN_HTML.replacen(ERROR_SLOT, &slot, 1))
}

/// The signed-in console (its data comes from the JSON API).
pub fn shell() -> Response {
    no_store(StatusCode::OK, CONSOLE_HTML.to_string())
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-cache")], body).into_response()
}

/// `GET /admin/console.js`
pub async fn script() -> Response {
    asset("text/javascript; charset=utf-8", CONSOLE_JS)
}

/// `GET /admin/console.css`
pub async fn stylesheet() -> Response {
    asset("text/css; charset=utf-8", CONSOLE_CSS)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ` onclick=` and the like.
    fn has_event_attribute(doc: &str) -> bool {
        doc.match_indices(" on").any(|(i, _)| {
            let rest = &doc[i + 3..];
            let name_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
            name_len > 0 && rest[name_len..].starts_with('=')
        })
    }

    #[test]
    fn markup_is_escaped_and_the_documents_have_no_inline_code() {
        assert_eq!(
            escape(r#"<script>"a" & 'b'</script>"#),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
        assert!(SIGN_IN_HTML.contains(ERROR_SLOT));
        for doc in [SIGN_IN_HTML, CONSOLE_HTML] {
            let lower = doc.to_lowercase();
            assert!(!lower.contains("<style"), "inline style element");
            assert!(!lower.contains(" style="), "inline style attribute");
            assert!(!has_event_attribute(&lower), "inline event handler");
            assert!(!lower.contains("<script>"), "inline script");
        }
        assert!(!CONSOLE_JS.contains("innerHTML") && !CONSOLE_JS.contains("insertAdjacentHTML"));
        assert!(!CONSOLE_JS.contains("eval(") && !CONSOLE_JS.contains("document.write"));
    }
}
