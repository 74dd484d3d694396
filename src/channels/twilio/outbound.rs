//! Sending a WhatsApp message through Twilio's Messages API: builds the
//! request (`POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json`,
//! form body `From`, `To`, `Body`, optional `StatusCallback`, HTTP basic
//! auth) and parses the answer, success (`sid`, `status`) or Twilio error
//! body, into `OutboundError` with a `retryable()` decision. No HTTP client:
//! reqwest is only a dev-dependency of the project, so the dispatcher sends
//! `SendRequest` with whatever client it has and hands the status code and
//! body back to `parse_send_response`. Owns `TwilioCredentials`,
//! `SendRequest`, `SendResponse`, `TwilioApiError` and `OutboundError`.

use super::form;
use super::status::{DeliveryStatus, MessageStatus};
use crate::channels::ProviderRequest;
use crate::domain::PhoneNumber;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;
use std::fmt;

pub const DEFAULT_BASE_URL: &str = "https://api.twilio.com";

/// Twilio refuses longer bodies (error 21617).
pub const MAX_BODY_CHARS: usize = 1600;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OutboundError {
    #[error("Twilio AccountSid {0:?} is not an account id")]
    BadAccountSid(String),
    #[error("the Twilio Auth Token is empty")]
    EmptyAuthToken,
    #[error("Twilio base URL {0:?} is not an http(s) URL")]
    BadBaseUrl(String),
    #[error("StatusCallback {0:?} is not an http(s) URL")]
    BadStatusCallback(String),
    #[error("the message body is empty")]
    EmptyBody,
    #[error("the message body has {0} characters; Twilio takes at most 1600")]
    BodyTooLong(usize),
    #[error("Twilio answered HTTP {http_status}: {}", describe(.error))]
    Api { http_status: u16, error: Option<TwilioApiError> },
    #[error("Twilio accepted the message but its answer could not be read: {0}")]
    BadResponse(String),
}

pub(super) fn describe(error: &Option<TwilioApiError>) -> String {
    match error {
        Some(e) => format!("error {} ({})", e.code.map_or("-".to_string(), |c| c.to_string()), e.message),
        None => "no Twilio error body".to_string(),
    }
}

impl OutboundError {
    /// Whether sending the same request again later may succeed. Throttling
    /// (HTTP 429, Twilio 20429, WhatsApp rate limit 63018) and server
    /// errors (5xx) may; everything else will fail the same way: bad input,
    /// bad credentials, an invalid or unreachable number (21211, 21614,
    /// 63003), an opted-out recipient (21610), a message outside the 24-hour
    /// session window (63016, which needs a template instead). A success
    /// whose body cannot be read is not retryable either: the message may
    /// have been accepted, and a retry could send it twice.
    pub fn retryable(&self) -> bool {
        match self {
            OutboundError::Api { http_status, error } => {
                match error.as_ref().and_then(|e| e.code) {
                    Some(20429 | 63018) => return true,
                    Some(63016 | 21211 | 21408 | 21610 | 21614 | 21617 | 63003 | 63007 | 20003 | 20404) => {
                        return false;
                    }
                    _ => {}
                }
                *http_status == 429 || (500..=599).contains(http_status)
            }
            _ => false,
        }
    }

    /// Whether Twilio refused because the customer has not written in the
    /// last 24 hours (only an approved template may be sent then).
    pub fn outside_session_window(&self) -> bool {
        matches!(self, OutboundError::Api { error: Some(TwilioApiError { code: Some(63016), .. }), .. })
    }
}

/// A Twilio error body: `{"code": 63016, "message": ..., "more_info": ...,
/// "status": 400}`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct TwilioApiError {
    #[serde(default)]
    pub code: Option<u32>,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub more_info: Option<String>,
    #[serde(default)]
    pub status: Option<u16>,
}

/// The account to send from.
#[derive(Clone, PartialEq, Eq)]
pub struct TwilioCredentials {
    account_sid: String,
    auth_token: String,
}

impl fmt::Debug for TwilioCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioCredentials")
            .field("account_sid", &self.account_sid)
            .field("auth_token", &"<redacted>")
            .finish()
    }
}

impl TwilioCredentials {
    /// `account_sid` is `AC` and 32 hex digits; it goes into the URL path.
    pub fn new(account_sid: &str, auth_token: &str) -> Result<Self, OutboundError> {
        let sid = account_sid.trim();
        let ok = sid.len() == 34 && sid.starts_with("AC") && sid[2..].chars().all(|c| c.is_ascii_hexdigit());
        if !ok {
            return Err(OutboundError::BadAccountSid(account_sid.to_string()));
        }
        if auth_token.is_empty() {
            return Err(OutboundError::EmptyAuthToken);
        }
        Ok(Self { account_sid: sid.to_string(), auth_token: auth_token.to_string() })
    }

    pub fn account_sid(&self) -> &str {
        &self.account_sid
    }

    /// The `Authorization` header value.
    pub(super) fn basic_auth(&self) -> String {
        format!("Basic {}", BASE64.encode(format!("{}:{}", self.account_sid, self.auth_token)))
    }
}

/// Twilio's send request: a [`ProviderRequest`].
pub type SendRequest = ProviderRequest;

impl SendRequest {
    /// The request sending `body` to `to` from the business number `from`.
    /// `base_url` is `DEFAULT_BASE_URL` in production (a test server's
    /// otherwise); `status_callback` is where Twilio posts delivery updates.
    pub fn whatsapp(
        base_url: &str,
        credentials: &TwilioCredentials,
        from: &PhoneNumber,
        to: &PhoneNumber,
        body: &str,
        status_callback: Option<&str>,
    ) -> Result<Self, OutboundError> {
        let base = base_url.trim_end_matches('/');
        if !is_http_url(base) {
            return Err(OutboundError::BadBaseUrl(base_url.to_string()));
        }
        if body.trim().is_empty() {
            return Err(OutboundError::EmptyBody);
        }
        let chars = body.chars().count();
        if chars > MAX_BODY_CHARS {
            return Err(OutboundError::BodyTooLong(chars));
        }
        let from = format!("whatsapp:{from}");
        let to = format!("whatsapp:{to}");
        let mut pairs = vec![("From", from.as_str()), ("To", to.as_str()), ("Body", body)];
        if let Some(cb) = status_callback {
            if !is_http_url(cb) {
                return Err(OutboundError::BadStatusCallback(cb.to_string()));
            }
            pairs.push(("StatusCallback", cb));
        }
        Ok(Self {
            method: "POST",
            url: format!("{base}/2010-04-01/Accounts/{}/Messages.json", credentials.account_sid),
            authorization: credentials.basic_auth(),
            content_type: "application/x-www-form-urlencoded",
            body: form::encode(pairs),
        })
    }
}

pub(super) fn is_http_url(s: &str) -> bool {
    let rest = s.strip_prefix("https://").or_else(|| s.strip_prefix("http://"));
    rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/') && !r.contains(char::is_whitespace))
}

/// Twilio's acceptance of a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendResponse {
    /// The message's id: the outbound row's `external_id`, and the
    /// `MessageSid` of its status callbacks.
    pub sid: String,
    pub status: MessageStatus,
}

impl SendResponse {
    /// The `delivery_status` to record now (`queued` for a fresh message).
    pub fn delivery_status(&self) -> DeliveryStatus {
        self.status.delivery_status().unwrap_or(DeliveryStatus::Queued)
    }
}

#[derive(Deserialize)]
struct SuccessBody {
    sid: Option<String>,
    status: Option<String>,
}

/// Reads Twilio's answer to a `SendRequest`: its HTTP status and body.
pub fn parse_send_response(http_status: u16, body: &[u8]) -> Result<SendResponse, OutboundError> {
    if !(200..=299).contains(&http_status) {
        let error = serde_json::from_slice::<TwilioApiError>(body).ok();
        return Err(OutboundError::Api { http_status, error });
    }
    let parsed: SuccessBody =
        serde_json::from_slice(body).map_err(|e| OutboundError::BadResponse(format!("not JSON: {e}")))?;
    let sid = parsed.sid.filter(|s| !s.trim().is_empty()).ok_or_else(|| OutboundError::BadResponse("no sid".into()))?;
    let status = parsed.status.as_deref().unwrap_or("queued");
    let status = status.parse().map_err(|_| OutboundError::BadResponse(format!("unknown status {status:?}")))?;
    Ok(SendResponse { sid, status })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::twilio::form::Form;

    const SID: &str = "AC0123456789abcdef0123456789abcdef";

    fn creds() -> TwilioCredentials {
        TwilioCredentials::new(SID, "secret-token").unwrap()
    }

    fn phone(s: &str) -> PhoneNumber {
        PhoneNumber::parse(s).unwrap()
    }

    #[test]
    fn builds_the_messages_request() {
        let req = SendRequest::whatsapp(
            "https://api.twilio.com/",
            &creds(),
            &phone("+14155238886"),
            &phone("+447700900418"),
            "Olá Marisol, your refund is on its way & done ✓",
            Some("https://support.example.com/twilio/status?tenant=acme"),
        )
        .unwrap();
        assert_eq!(req.method, "POST");
        assert_eq!(req.url, format!("https://api.twilio.com/2010-04-01/Accounts/{SID}/Messages.json"));
        assert_eq!(req.content_type, "application/x-www-form-urlencoded");
        let expected_auth = format!("Basic {}", BASE64.encode(format!("{SID}:secret-token")));
        assert_eq!(req.authorization, expected_auth);
        let form = Form::decode(req.body.as_bytes()).unwrap();
        assert_eq!(form.get("From"), Some("whatsapp:+14155238886"));
        assert_eq!(form.get("To"), Some("whatsapp:+447700900418"));
        assert_eq!(form.get("Body"), Some("Olá Marisol, your refund is on its way & done ✓"));
        assert_eq!(form.get("StatusCallback"), Some("https://support.example.com/twilio/status?tenant=acme"));
        assert!(!format!("{req:?}").contains("secret-token"));
        assert!(!format!("{:?}", creds()).contains("secret-token"));

        let plain = SendRequest::whatsapp(
            DEFAULT_BASE_URL,
            &creds(),
            &phone("+14155238886"),
            &phone("+12025550147"),
            "hi",
            None,
        )
        .unwrap();
        assert_eq!(plain.body, "From=whatsapp%3A%2B14155238886&To=whatsapp%3A%2B12025550147&Body=hi");
    }

    #[test]
    fn refuses_bad_input() {
        let (f, t) = (phone("+14155238886"), phone("+12025550147"));
        let c = creds();
        assert_eq!(SendRequest::whatsapp(DEFAULT_BASE_URL, &c, &f, &t, "  ", None), Err(OutboundError::EmptyBody));
        let long = "x".repeat(1601);
        assert_eq!(
            SendRequest::whatsapp(DEFAULT_BASE_URL, &c, &f, &t, &long, None),
            Err(OutboundError::BodyTooLong(1601))
        );
        assert!(SendRequest::whatsapp(DEFAULT_BASE_URL, &c, &f, &t, &"é".repeat(1600), None).is_ok());
        assert!(matches!(
            SendRequest::whatsapp("api.twilio.com", &c, &f, &t, "hi", None),
            Err(OutboundError::BadBaseUrl(_))
        ));
        assert!(matches!(
            SendRequest::whatsapp(DEFAULT_BASE_URL, &c, &f, &t, "hi", Some("/status")),
            Err(OutboundError::BadStatusCallback(_))
        ));
        for bad in ["", "AC123", "SK0123456789abcdef0123456789abcdef", "AC0123456789abcdef0123456789abcde/"] {
            assert!(matches!(TwilioCredentials::new(bad, "t"), Err(OutboundError::BadAccountSid(_))), "{bad}");
        }
        assert_eq!(TwilioCredentials::new(SID, ""), Err(OutboundError::EmptyAuthToken));
    }

    #[test]
    fn parses_success() {
        let body =
            br#"{"sid": "SM1f0e8ae6ade43cb3c0ce4525424e404f", "status": "queued", "body": "hi", "error_code": null}"#;
        let r = parse_send_response(201, body).unwrap();
        assert_eq!(r.sid, "SM1f0e8ae6ade43cb3c0ce4525424e404f");
        assert_eq!(r.status, MessageStatus::Queued);
        assert_eq!(r.delivery_status(), DeliveryStatus::Queued);
        assert_eq!(
            parse_send_response(201, br#"{"sid":"SM2","status":"accepted"}"#).unwrap().status,
            MessageStatus::Accepted
        );
        assert!(matches!(parse_send_response(201, b"<html>"), Err(OutboundError::BadResponse(_))));
        assert!(matches!(parse_send_response(201, br#"{"status":"queued"}"#), Err(OutboundError::BadResponse(_))));
        assert!(!parse_send_response(201, b"").unwrap_err().retryable());
    }

    fn api_error(http: u16, body: &str) -> OutboundError {
        parse_send_response(http, body.as_bytes()).unwrap_err()
    }

    #[test]
    fn parses_errors_and_decides_retries() {
        let e = api_error(
            400,
            r#"{"code": 63016, "message": "Failed to send freeform message because you are outside the allowed window.", "more_info": "https://www.twilio.com/docs/errors/63016", "status": 400}"#,
        );
        let OutboundError::Api { http_status: 400, error: Some(ref body) } = e else { panic!("{e:?}") };
        assert_eq!(body.code, Some(63016));
        assert_eq!(body.more_info.as_deref(), Some("https://www.twilio.com/docs/errors/63016"));
        assert_eq!(body.status, Some(400));
        assert!(!e.retryable());
        assert!(e.outside_session_window());
        assert!(e.to_string().contains("63016"));

        let cases = [
            (400, r#"{"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400}"#, false),
            (400, r#"{"code": 21610, "message": "Attempt to send to unsubscribed recipient", "status": 400}"#, false),
            (401, r#"{"code": 20003, "message": "Authenticate", "status": 401}"#, false),
            (429, r#"{"code": 20429, "message": "Too Many Requests", "status": 429}"#, true),
            (429, "", true),
            (400, r#"{"code": 63018, "message": "Rate limit exceeded", "status": 400}"#, true),
            (500, r#"{"code": 20500, "message": "Internal Server Error", "status": 500}"#, true),
            (503, "<html>Service Unavailable</html>", true),
            (404, r#"{"code": 20404, "message": "not found", "status": 404}"#, false),
            (400, r#"{"code": 99999, "message": "something new", "status": 400}"#, false),
        ];
        for (http, body, retry) in cases {
            let e = api_error(http, body);
            assert_eq!(e.retryable(), retry, "{http} {body}");
            assert!(!e.outside_session_window());
        }
        let OutboundError::Api { error: None, .. } = api_error(503, "<html>") else { panic!() };
    }
}
