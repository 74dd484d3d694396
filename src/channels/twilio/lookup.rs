//! Finding a message an earlier send may have left at Twilio: the
//! Messages list (`GET {base}/2010-04-01/Accounts/{AccountSid}/
//! Messages.json?To=whatsapp:+…&From=whatsapp:+…&PageSize=50`, HTTP basic
//! auth as for the send), newest first, paged by `next_page_uri` (a path on
//! the API's host). The answer is `{"messages": [{"sid", "to", "from",
//! "body", "status", "date_created" (RFC 2822), "date_sent", …}],
//! "next_page_uri", "page", "page_size", "uri", "first_page_uri",
//! "previous_page_uri"}`. Twilio's Messages API takes no idempotency key,
//! so recipient, text and time are what identify a message: the one
//! sought went to the same number with exactly the same `Body`, was
//! created no earlier than `MessageQuery::not_before`, and its sid is no
//! other reply's. No I/O, as in `outbound`: the dispatcher sends the
//! requests built here and hands the answers back. Owns `LookupError`,
//! `ListedMessage`, `MessagePage`, `MessageQuery` and `PageScan`.

use super::form;
use super::outbound::{SendResponse, TwilioApiError, TwilioCredentials, describe, is_http_url};
use super::status::MessageStatus;
use crate::channels::ProviderRequest;
use crate::domain::PhoneNumber;
use chrono::{DateTime, Utc};
use serde::Deserialize;

/// Messages asked for per page.
pub const PAGE_SIZE: u32 = 50;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LookupError {
    #[error("Twilio base URL {0:?} is not an http(s) URL")]
    BadBaseUrl(String),
    #[error("next_page_uri {0:?} is not a page of this account's Messages list")]
    BadPageUri(String),
    #[error("Twilio answered HTTP {http_status} to the Messages list: {}", describe(.error))]
    Api { http_status: u16, error: Option<TwilioApiError> },
    #[error("Twilio's Messages list could not be read: {0}")]
    BadResponse(String),
}

impl LookupError {
    /// Whether asking again later may get an answer: throttling (HTTP 429,
    /// Twilio 20429), server errors, and a 2xx whose body could not be read
    /// (it says nothing either way). Refused credentials, an unknown
    /// account or a bad request will fail the same way.
    pub fn retryable(&self) -> bool {
        match self {
            LookupError::Api { http_status, error } => {
                error.as_ref().and_then(|e| e.code) == Some(20429)
                    || *http_status == 429
                    || (500..=599).contains(http_status)
            }
            LookupError::BadResponse(_) => true,
            LookupError::BadBaseUrl(_) | LookupError::BadPageUri(_) => false,
        }
    }
}

fn messages_path(credentials: &TwilioCredentials) -> String {
    format!("/2010-04-01/Accounts/{}/Messages.json", credentials.account_sid())
}

fn api_base(base_url: &str) -> Result<&str, LookupError> {
    let base = base_url.trim_end_matches('/');
    if is_http_url(base) { Ok(base) } else { Err(LookupError::BadBaseUrl(base_url.to_string())) }
}

fn get(credentials: &TwilioCredentials, url: String) -> ProviderRequest {
    ProviderRequest {
        method: "GET",
        url,
        authorization: credentials.basic_auth(),
        content_type: "application/x-www-form-urlencoded",
        body: String::new(),
    }
}

/// The first page of the WhatsApp messages sent from the business number
/// `from` to `to`.
pub fn list_request(
    base_url: &str,
    credentials: &TwilioCredentials,
    from: &PhoneNumber,
    to: &PhoneNumber,
) -> Result<ProviderRequest, LookupError> {
    let base = api_base(base_url)?;
    let (to, from, size) = (format!("whatsapp:{to}"), format!("whatsapp:{from}"), PAGE_SIZE.to_string());
    let query = form::encode([("To", to.as_str()), ("From", from.as_str()), ("PageSize", size.as_str())]);
    Ok(get(credentials, format!("{base}{}?{query}", messages_path(credentials))))
}

/// The page a list answer's `next_page_uri` names. Only a page of the same
/// account's Messages list is requested: the credentials go with it.
pub fn next_page_request(
    base_url: &str,
    credentials: &TwilioCredentials,
    next_page_uri: &str,
) -> Result<ProviderRequest, LookupError> {
    let base = api_base(base_url)?;
    let ok = next_page_uri.strip_prefix(messages_path(credentials).as_str()).is_some_and(|q| q.starts_with('?'))
        && next_page_uri.bytes().all(|b| b.is_ascii_graphic());
    if !ok {
        return Err(LookupError::BadPageUri(next_page_uri.chars().take(200).collect()));
    }
    Ok(get(credentials, format!("{base}{next_page_uri}")))
}

/// One message of a list page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedMessage {
    pub sid: String,
    /// `whatsapp:+E164` for WhatsApp messages.
    pub to: String,
    pub from: String,
    pub body: String,
    /// `None` for a status this adapter does not know.
    pub status: Option<MessageStatus>,
    pub date_created: DateTime<Utc>,
}

/// One page of the Messages list, newest first as Twilio orders it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessagePage {
    pub messages: Vec<ListedMessage>,
    /// The next (older) page's path, if there is one.
    pub next_page_uri: Option<String>,
}

#[derive(Deserialize)]
struct ListBody {
    messages: Option<Vec<MessageBody>>,
    next_page_uri: Option<String>,
}

#[derive(Deserialize)]
struct MessageBody {
    sid: Option<String>,
    to: Option<String>,
    from: Option<String>,
    body: Option<String>,
    status: Option<String>,
    date_created: Option<String>,
}

/// Reads Twilio's answer to a `list_request` or `next_page_request`. A
/// 2xx without a `messages` array, or with a message lacking its sid or
/// a readable `date_created`, is `BadResponse`: an answer not understood
/// is never taken to mean "not there".
pub fn parse_list_response(http_status: u16, body: &[u8]) -> Result<MessagePage, LookupError> {
    if !(200..=299).contains(&http_status) {
        let error = serde_json::from_slice::<TwilioApiError>(body).ok();
        return Err(LookupError::Api { http_status, error });
    }
    let parsed: ListBody =
        serde_json::from_slice(body).map_err(|e| LookupError::BadResponse(format!("not JSON: {e}")))?;
    let listed = parsed.messages.ok_or_else(|| LookupError::BadResponse("no messages array".into()))?;
    let mut messages = Vec::with_capacity(listed.len());
    for m in listed {
        let sid = m.sid.filter(|s| !s.trim().is_empty()).ok_or_else(|| LookupError::BadResponse("no sid".into()))?;
        let created = m.date_created.unwrap_or_default();
        let date_created = DateTime::parse_from_rfc2822(&created)
            .map_err(|e| LookupError::BadResponse(format!("message {sid}: date_created {created:?}: {e}")))?
            .with_timezone(&Utc);
        messages.push(ListedMessage {
            status: m.status.as_deref().and_then(|s| s.parse().ok()),
            to: m.to.unwrap_or_default(),
            from: m.from.unwrap_or_default(),
            body: m.body.unwrap_or_default(),
            date_created,
            sid,
        });
    }
    Ok(MessagePage { messages, next_page_uri: parsed.next_page_uri.filter(|u| !u.trim().is_empty()) })
}

/// The message sought.
#[derive(Clone, Copy, Debug)]
pub struct MessageQuery<'a> {
    pub to: &'a PhoneNumber,
    /// Exactly the `Body` the send posted.
    pub body: &'a str,
    /// The earliest `date_created` it can have (the attempt's start, less
    /// an allowance for clock skew).
    pub not_before: DateTime<Utc>,
}

/// What one page says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageScan {
    /// The oldest message on the page that matches the query and is no
    /// other reply's (of identical texts, the one closest to the attempt).
    pub oldest_match: Option<SendResponse>,
    /// The next page to read: only while this page reaches back to
    /// `not_before` and Twilio has more.
    pub next_page_uri: Option<String>,
}

/// Looks for `query` on `page`; `taken` are sids stored for other replies.
pub fn scan_page(page: MessagePage, query: &MessageQuery<'_>, taken: &[String]) -> PageScan {
    let to = format!("whatsapp:{}", query.to);
    let reaches_back = page.messages.iter().map(|m| m.date_created).min().is_some_and(|t| t >= query.not_before);
    let oldest_match = page
        .messages
        .into_iter()
        .rev()
        .filter(|m| m.to == to && m.body == query.body && m.date_created >= query.not_before)
        .filter(|m| !taken.contains(&m.sid))
        .min_by_key(|m| m.date_created)
        .map(|m| SendResponse { sid: m.sid, status: m.status.unwrap_or(MessageStatus::Queued) });
    PageScan { oldest_match, next_page_uri: page.next_page_uri.filter(|_| reaches_back) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::twilio::DeliveryStatus;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD as BASE64;
    use chrono::TimeZone;

    const SID: &str = "AC0123456789abcdef0123456789abcdef";
    const BUSINESS: &str = "+31208084417";
    const CUSTOMER: &str = "+31612345678";
    const REPLY: &str = "Hi Jo — invoices export from Reports > Export & land as CSV.";

    fn creds() -> TwilioCredentials {
        TwilioCredentials::new(SID, "secret-token").unwrap()
    }

    fn phone(s: &str) -> PhoneNumber {
        PhoneNumber::parse(s).unwrap()
    }

    fn message(sid: &str, body: &str, status: &str, created: &str) -> serde_json::Value {
        serde_json::json!({
            "account_sid": SID,
            "api_version": "2010-04-01",
            "body": body,
            "date_created": created,
            "date_sent": created,
            "date_updated": created,
            "direction": "outbound-api",
            "error_code": null,
            "error_message": null,
            "from": format!("whatsapp:{BUSINESS}"),
            "messaging_service_sid": null,
            "num_media": "0",
            "num_segments": "1",
            "price": null,
            "price_unit": "USD",
            "sid": sid,
            "status": status,
            "subresource_uris": {
                "media": format!("/2010-04-01/Accounts/{SID}/Messages/{sid}/Media.json"),
                "feedback": format!("/2010-04-01/Accounts/{SID}/Messages/{sid}/Feedback.json")
            },
            "to": format!("whatsapp:{CUSTOMER}"),
            "uri": format!("/2010-04-01/Accounts/{SID}/Messages/{sid}.json")
        })
    }

    const QUERY: &str = "To=whatsapp%3A%2B31612345678&From=whatsapp%3A%2B31208084417&PageSize=50";

    fn page(messages: Vec<serde_json::Value>, next: Option<&str>) -> Vec<u8> {
        serde_json::json!({
            "end": messages.len().saturating_sub(1),
            "first_page_uri": format!("/2010-04-01/Accounts/{SID}/Messages.json?{QUERY}&Page=0"),
            "messages": messages,
            "next_page_uri": next,
            "page": 0,
            "page_size": 50,
            "previous_page_uri": null,
            "start": 0,
            "uri": format!("/2010-04-01/Accounts/{SID}/Messages.json?{QUERY}&Page=0")
        })
        .to_string()
        .into_bytes()
    }

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 7, h, m, s).unwrap()
    }

    fn query(customer: &PhoneNumber) -> MessageQuery<'_> {
        MessageQuery { to: customer, body: REPLY, not_before: at(1, 16, 30) }
    }

    #[test]
    fn builds_the_list_request() {
        let req = list_request("https://api.twilio.com/", &creds(), &phone(BUSINESS), &phone(CUSTOMER)).unwrap();
        assert_eq!(req.method, "GET");
        assert_eq!(req.url, format!("https://api.twilio.com/2010-04-01/Accounts/{SID}/Messages.json?{QUERY}"));
        assert_eq!(req.authorization, format!("Basic {}", BASE64.encode(format!("{SID}:secret-token"))));
        assert_eq!(req.body, "");
        assert!(!format!("{req:?}").contains("secret-token"));
        assert_eq!(
            list_request("api.twilio.com", &creds(), &phone(BUSINESS), &phone(CUSTOMER)),
            Err(LookupError::BadBaseUrl("api.twilio.com".into()))
        );
    }

    #[test]
    fn follows_only_pages_of_the_same_list() {
        let next = format!("/2010-04-01/Accounts/{SID}/Messages.json?{QUERY}&Page=1&PageToken=PASM5f1e2d3c4b5a6978");
        let req = next_page_request("http://127.0.0.1:9000", &creds(), &next).unwrap();
        assert_eq!(req.method, "GET");
        assert_eq!(req.url, format!("http://127.0.0.1:9000{next}"));
        assert!(req.authorization.starts_with("Basic "));
        let other = "AC1111111111111111111111111111111a";
        for bad in [
            format!("/2010-04-01/Accounts/{other}/Messages.json?Page=1"),
            format!("/2010-04-01/Accounts/{SID}/Calls.json?Page=1"),
            format!("https://evil.example/2010-04-01/Accounts/{SID}/Messages.json?Page=1"),
            format!("/2010-04-01/Accounts/{SID}/Messages.json/../../Calls.json"),
            format!("/2010-04-01/Accounts/{SID}/Messages.json?Page=1 x"),
        ] {
            let e = next_page_request("http://127.0.0.1:9000", &creds(), &bad).unwrap_err();
            assert!(matches!(e, LookupError::BadPageUri(_)), "{bad}");
            assert!(!e.retryable());
        }
    }

    #[test]
    fn parses_a_list_page() {
        let next = format!("/2010-04-01/Accounts/{SID}/Messages.json?{QUERY}&Page=1&PageToken=PASM5f1e");
        let body = page(
            vec![
                message(
                    "SM1f0e8ae6ade43cb3c0ce4525424e404f",
                    "Anything else?",
                    "read",
                    "Mon, 07 Dec 2026 01:20:02 +0000",
                ),
                message("SM2a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d", REPLY, "sent", "Mon, 07 Dec 2026 01:16:38 +0000"),
            ],
            Some(&next),
        );
        let p = parse_list_response(200, &body).unwrap();
        assert_eq!(p.next_page_uri.as_deref(), Some(next.as_str()));
        assert_eq!(p.messages.len(), 2);
        let m = &p.messages[1];
        assert_eq!(m.sid, "SM2a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d");
        assert_eq!((m.to.as_str(), m.from.as_str()), ("whatsapp:+31612345678", "whatsapp:+31208084417"));
        assert_eq!(m.body, REPLY);
        assert_eq!(m.status, Some(MessageStatus::Sent));
        assert_eq!(m.date_created, at(1, 16, 38));
        // The last page: `next_page_uri` is null; an empty list is a page too.
        let last = parse_list_response(200, &page(vec![], None)).unwrap();
        assert!(last.messages.is_empty() && last.next_page_uri.is_none());
    }

    #[test]
    fn refuses_answers_it_cannot_read() {
        let no_date = page(vec![message("SM1", REPLY, "sent", "yesterday")], None);
        for body in [&b"<html>"[..], b"{}", br#"{"messages":[{"status":"sent"}]}"#, &no_date] {
            let e = parse_list_response(200, body).unwrap_err();
            assert!(matches!(e, LookupError::BadResponse(_)), "{e:?}");
            assert!(e.retryable(), "an unreadable answer is asked again: {e:?}");
        }
        let cases = [
            (429, r#"{"code": 20429, "message": "Too Many Requests", "status": 429}"#, true),
            (503, "<html>Service Unavailable</html>", true),
            (500, r#"{"code": 20500, "message": "Internal Server Error", "status": 500}"#, true),
            (401, r#"{"code": 20003, "message": "Authenticate", "status": 401}"#, false),
            (404, r#"{"code": 20404, "message": "The requested resource was not found", "status": 404}"#, false),
        ];
        for (status, body, retry) in cases {
            let e = parse_list_response(status, body.as_bytes()).unwrap_err();
            assert_eq!(e.retryable(), retry, "{status} {body}");
            assert!(e.to_string().contains(&status.to_string()));
        }
    }

    #[test]
    fn finds_the_reply_by_recipient_text_and_time() {
        let customer = phone(CUSTOMER);
        let body = page(
            vec![
                message(
                    "SM30000000000000000000000000000003",
                    "Anything else?",
                    "queued",
                    "Mon, 07 Dec 2026 01:20:02 +0000",
                ),
                message("SM20000000000000000000000000000002", REPLY, "delivered", "Mon, 07 Dec 2026 01:16:38 +0000"),
                // Same text, before the attempt began (an earlier reply).
                message("SM10000000000000000000000000000001", REPLY, "read", "Mon, 07 Dec 2026 01:10:00 +0000"),
            ],
            Some("/2010-04-01/Accounts/x/Messages.json?Page=1"),
        );
        let scan = scan_page(parse_list_response(200, &body).unwrap(), &query(&customer), &[]);
        let found = scan.oldest_match.unwrap();
        assert_eq!(found.sid, "SM20000000000000000000000000000002");
        assert_eq!(found.delivery_status(), DeliveryStatus::Delivered);
        // The page reaches back before the attempt: no need to read on.
        assert_eq!(scan.next_page_uri, None);
    }

    #[test]
    fn tells_identical_texts_apart_with_taken_sids() {
        let customer = phone(CUSTOMER);
        let two = || {
            page(
                vec![
                    message("SMb0000000000000000000000000000002", REPLY, "sent", "Mon, 07 Dec 2026 01:17:10 +0000"),
                    message("SMa0000000000000000000000000000001", REPLY, "sent", "Mon, 07 Dec 2026 01:16:31 +0000"),
                ],
                None,
            )
        };
        let scan = scan_page(parse_list_response(200, &two()).unwrap(), &query(&customer), &[]);
        assert_eq!(scan.oldest_match.unwrap().sid, "SMa0000000000000000000000000000001");
        let taken = ["SMa0000000000000000000000000000001".to_string()];
        let scan = scan_page(parse_list_response(200, &two()).unwrap(), &query(&customer), &taken);
        assert_eq!(scan.oldest_match.unwrap().sid, "SMb0000000000000000000000000000002");
        let taken = [taken[0].clone(), "SMb0000000000000000000000000000002".to_string()];
        assert_eq!(scan_page(parse_list_response(200, &two()).unwrap(), &query(&customer), &taken).oldest_match, None);
    }

    #[test]
    fn other_texts_recipients_and_times_do_not_match() {
        let customer = phone(CUSTOMER);
        let mut other_to = message("SM4", REPLY, "sent", "Mon, 07 Dec 2026 01:17:00 +0000");
        other_to["to"] = "whatsapp:+31687654321".into();
        let body = page(
            vec![
                other_to,
                message("SM3", &format!("{REPLY} "), "sent", "Mon, 07 Dec 2026 01:17:00 +0000"),
                message("SM2", &REPLY.to_lowercase(), "sent", "Mon, 07 Dec 2026 01:17:00 +0000"),
                message("SM1", REPLY, "sent", "Mon, 07 Dec 2026 01:16:29 +0000"),
            ],
            None,
        );
        let scan = scan_page(parse_list_response(200, &body).unwrap(), &query(&customer), &[]);
        assert_eq!(scan, PageScan { oldest_match: None, next_page_uri: None });
    }

    #[test]
    fn reads_on_while_a_page_is_inside_the_window() {
        let customer = phone(CUSTOMER);
        let next = format!("/2010-04-01/Accounts/{SID}/Messages.json?{QUERY}&Page=1&PageToken=PASM2");
        let busy = page(
            vec![
                message("SM6", "Anything else?", "sent", "Mon, 07 Dec 2026 01:19:00 +0000"),
                message("SM5", "Thanks!", "sent", "Mon, 07 Dec 2026 01:16:30 +0000"),
            ],
            Some(&next),
        );
        let scan = scan_page(parse_list_response(200, &busy).unwrap(), &query(&customer), &[]);
        assert_eq!(scan, PageScan { oldest_match: None, next_page_uri: Some(next) });
        // The last page of the list: nothing more to read.
        let last = page(vec![message("SM4", "Thanks!", "sent", "Mon, 07 Dec 2026 01:16:45 +0000")], None);
        assert_eq!(scan_page(parse_list_response(200, &last).unwrap(), &query(&customer), &[]).next_page_uri, None);
        // An empty page ends the search.
        let empty = page(vec![], Some("/2010-04-01/Accounts/x/Messages.json?Page=9"));
        assert_eq!(scan_page(parse_list_response(200, &empty).unwrap(), &query(&customer), &[]).next_page_uri, None);
    }

    #[test]
    fn an_unknown_status_reads_as_queued() {
        let customer = phone(CUSTOMER);
        let body = page(vec![message("SM7", REPLY, "partially_delivered", "Mon, 07 Dec 2026 01:17:00 +0000")], None);
        let p = parse_list_response(200, &body).unwrap();
        assert_eq!(p.messages[0].status, None);
        let found = scan_page(p, &query(&customer), &[]).oldest_match.unwrap();
        assert_eq!(found.status, MessageStatus::Queued);
    }
}
