//! The static assets of the web form, embedded in the binary: `widget.js`
//! (served at `/support/widget.js`, `text/javascript`), `support.html`
//! (`/support`, with the tenant's widget key filled in by
//! `render_support_page`) and `status.html` (`/support/tickets/{id}`, served
//! as is: the script reads the id and token from the URL). Owns those
//! constants and the consistency tests that tie `widget.js` to the Rust
//! side and to the selectors the browser test uses.
//!
//! The pages load nothing from elsewhere and have no inline script, so a
//! strict policy fits: `default-src 'none'; script-src 'self'; style-src
//! 'self' 'unsafe-inline'; connect-src 'self'; base-uri 'none';
//! form-action 'none'; frame-ancestors 'none'`. A page on another site that
//! embeds the widget posts cross-origin: the API then needs CORS (the JSON
//! content type means a preflight).

/// The widget: `<fte-support-form>` and `<fte-support-status>`.
pub const WIDGET_JS: &str = include_str!("widget.js");
/// The hosted form page, with a `{{WIDGET_KEY}}` placeholder.
pub const SUPPORT_HTML: &str = include_str!("support.html");
/// The hosted status page.
pub const STATUS_HTML: &str = include_str!("status.html");

/// The placeholder in `SUPPORT_HTML` that `render_support_page` fills.
pub const WIDGET_KEY_PLACEHOLDER: &str = "{{WIDGET_KEY}}";

/// `support.html` for one form: the widget key, escaped for an HTML
/// attribute (keys that pass `TicketRequest` checks need no escaping, but
/// whatever the caller passes cannot break out of the attribute).
pub fn render_support_page(widget_key: &str) -> String {
    SUPPORT_HTML.replace(WIDGET_KEY_PLACEHOLDER, &crate::html_escape::escape(widget_key))
}

#[cfg(test)]
mod tests {
    use super::super::category::Category;
    use super::super::request::{MESSAGE_MAX_CHARS, MESSAGE_MIN_CHARS, NAME_MAX_CHARS, SUBJECT_MAX_CHARS};
    use super::*;

    #[test]
    fn support_page_gets_the_key_escaped() {
        assert_eq!(SUPPORT_HTML.matches(WIDGET_KEY_PLACEHOLDER).count(), 1);
        let page = render_support_page("wk_tallyloom-01");
        assert!(page.contains(r#"<script src="/support/widget.js" data-widget-key="wk_tallyloom-01"></script>"#));
        assert!(!page.contains("{{"));
        let hostile = render_support_page(r#""><script>alert(1)</script>"#);
        assert!(hostile.contains(r#"data-widget-key="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;""#));
        assert_eq!(hostile.matches("<script").count(), 1);
    }

    #[test]
    fn pages_use_the_widget_and_nothing_external() {
        assert!(STATUS_HTML.contains("<fte-support-status></fte-support-status>"));
        assert!(STATUS_HTML.contains(r#"<script src="/support/widget.js"></script>"#));
        assert!(STATUS_HTML.contains(r#"<meta name="referrer" content="no-referrer">"#));
        for page in [SUPPORT_HTML, STATUS_HTML] {
            assert!(!page.contains("src=\"http"), "no external scripts or images");
            assert!(!page.contains("<link"), "no external stylesheets");
            assert_eq!(page.matches("<script").count(), 1, "only the widget script, no inline script");
        }
        assert!(!WIDGET_JS.contains("innerHTML"), "server data must never be parsed as HTML");
        assert!(!WIDGET_JS.contains("import "), "no modules or dependencies");
    }

    /// The selectors the WebDriver test relies on, and the API paths.
    #[test]
    fn widget_has_the_names_and_test_ids_the_integration_test_uses() {
        for needle in [
            "customElements.define('fte-support-form'",
            "customElements.define('fte-support-status'",
            "attachShadow({ mode: 'open' })",
            "script.dataset.widgetKey",
            "getAttribute('endpoint')",
            "getAttribute('widget-key')",
            "getAttribute('ticket-id')",
            "getAttribute('token')",
            "/support/api/tickets",
            "/support/api/tickets/${encodeURIComponent(ticketId)}?token=",
            "'data-testid': 'submit'",
            "'data-testid': 'ticket-reference'",
            "'data-testid': 'status-link'",
            "'data-testid': 'status'",
            "'data-testid': 'form-error'",
            "'data-testid': 'status-error'",
            "'data-testid': `error-${f.id}`",
            "'data-testid': f.id",
            "author === 'customer' ? 'customer-message' : 'reply'",
            "id: 'website', name: 'website'",
            "method: 'POST'",
            "'Content-Type': 'application/json'",
            "widget_key: key",
        ] {
            assert!(WIDGET_JS.contains(needle), "widget.js lacks {needle:?}");
        }
        for field in ["name", "email", "phone", "category", "subject", "message"] {
            assert!(WIDGET_JS.contains(&format!("{{ id: '{field}', label:")), "widget.js lacks the {field} field");
        }
    }

    /// Every author the status API sends has a label in the widget.
    #[test]
    fn widget_labels_every_message_author() {
        let start = WIDGET_JS.find("const AUTHORS = {").unwrap();
        let end = start + WIDGET_JS[start..].find("};").unwrap();
        for author in super::super::Author::ALL {
            let name = author.as_str();
            assert!(WIDGET_JS[start..end].contains(&format!("{name}: '")), "widget.js has no label for {name}");
        }
    }

    #[test]
    fn widget_limits_and_categories_match_the_server() {
        let limits = format!(
            "const LIMITS = {{ name: [1, {NAME_MAX_CHARS}], subject: [1, {SUBJECT_MAX_CHARS}], message: [{MESSAGE_MIN_CHARS}, {MESSAGE_MAX_CHARS}] }};"
        );
        assert!(WIDGET_JS.contains(&limits), "widget.js limits differ from the server's: expected {limits}");
        let start = WIDGET_JS.find("const CATEGORIES = [").unwrap();
        let end = start + WIDGET_JS[start..].find("];").unwrap();
        let block = &WIDGET_JS[start..end];
        let ids: Vec<&str> = block.lines().filter_map(|l| l.trim().strip_prefix("['")?.split('\'').next()).collect();
        let expected: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(ids, expected, "widget.js categories, in order");
        for c in Category::ALL {
            let label = c.label();
            assert!(block.contains(label), "widget.js label for {c} should be {label:?}");
        }
        let start = WIDGET_JS.find("const STATUS_LABELS = {").unwrap();
        let end = start + WIDGET_JS[start..].find("};").unwrap();
        for status in ["open", "pending", "escalated", "resolved", "closed"] {
            assert!(WIDGET_JS[start..end].contains(&format!("{status}: ")), "widget.js has no label for {status}");
        }
    }
}
