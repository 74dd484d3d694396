//! Finding the messages a notification announced:
//! `users.history.list` (developers.google.com/gmail/api/reference/rest/v1/users.history/list:
//! `GET {base}/gmail/v1/users/{userId}/history?startHistoryId=…&historyTypes=messageAdded&labelId=INBOX`,
//! answer `{"history": [{"id", "messages": [...], "messagesAdded":
//! [{"message": {"id", "threadId", "labelIds"}}]}], "nextPageToken",
//! "historyId"}`). An out-of-date `startHistoryId` answers HTTP 404
//! ("typically valid for at least a week"): then the caller resyncs with
//! `users.messages.list` (`?labelIds=INBOX&q=newer_than:1d`, answer
//! `{"messages": [{"id", "threadId"}], "nextPageToken",
//! "resultSizeEstimate"}`) and dedupes by message id. The same list finds
//! a sent reply: with `q=rfc822msgid:<Message-ID>&includeSpamTrash=true`
//! by the `Message-ID` it was composed with (`message_id_search`), and,
//! for when Gmail replaced that `Message-ID` on send, with `q=in:sent
//! to:<address> after:<epoch seconds>&includeSpamTrash=true&maxResults=50`
//! (`sent_to_search`, paged by `pageToken`) the candidates whose headers
//! the caller then reads (`fetch`'s `message_get_metadata`). No match
//! answers `{"resultSizeEstimate": 0}`, without `messages`. History ids
//! are uint64s that Google writes as JSON strings; numbers are accepted
//! too. Owns `HistoryOutcome`, `HistoryPage`, `AddedMessage`,
//! `MessageListPage`.

use super::api::{ApiError, GmailApi, check_status, parse_json};
use super::oauth::AccessToken;
use super::push::parse_history_id;
use super::urlenc;
use crate::channels::ProviderRequest;
use crate::domain::EmailAddress;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

/// The Gmail query of the resync after a 404.
pub const RESYNC_QUERY: &str = "newer_than:1d";

/// Messages per page of `sent_to_search`.
pub const SENT_SEARCH_PAGE_SIZE: usize = 50;

impl GmailApi {
    /// `users.history.list` of INBOX messages added after
    /// `start_history_id`; `page_token` is the previous page's
    /// `next_page_token`.
    pub fn history_list(
        &self,
        token: &AccessToken,
        start_history_id: u64,
        page_token: Option<&str>,
    ) -> Result<ProviderRequest, ApiError> {
        let mut url = self
            .user_url(&format!("history?startHistoryId={start_history_id}&historyTypes=messageAdded&labelId=INBOX"));
        push_page_token(&mut url, page_token)?;
        Ok(self.get(token, url))
    }

    /// `users.messages.list` of the last day's INBOX: the resync after
    /// `HistoryOutcome::TooOld`.
    pub fn recent_inbox_list(
        &self,
        token: &AccessToken,
        page_token: Option<&str>,
    ) -> Result<ProviderRequest, ApiError> {
        let mut url = self.user_url(&format!("messages?labelIds=INBOX&q={}", urlenc::component(RESYNC_QUERY)));
        push_page_token(&mut url, page_token)?;
        Ok(self.get(token, url))
    }

    /// `users.messages.list` of the messages whose `Message-ID` header is
    /// `message_id` (with or without its angle brackets), spam and trash
    /// included.
    pub fn message_id_search(&self, token: &AccessToken, message_id: &str) -> Result<ProviderRequest, ApiError> {
        let id = message_id.trim();
        let id = id.strip_prefix('<').and_then(|i| i.strip_suffix('>')).unwrap_or(id);
        let ok = !id.is_empty()
            && id.len() <= 998
            && id.bytes().all(|b| b.is_ascii_graphic() && !matches!(b, b'<' | b'>' | b'"'));
        if !ok {
            return Err(ApiError::BadId { what: "Message-ID", value: message_id.chars().take(200).collect() });
        }
        let query = urlenc::component(&format!("rfc822msgid:{id}"));
        Ok(self.get(token, self.user_url(&format!("messages?q={query}&includeSpamTrash=true"))))
    }

    /// `users.messages.list` of the mailbox's sent messages to `to` dated
    /// after `after` (Gmail's `after:` in epoch seconds), spam and trash
    /// included, `SENT_SEARCH_PAGE_SIZE` a page; `page_token` is the
    /// previous page's `next_page_token`.
    pub fn sent_to_search(
        &self,
        token: &AccessToken,
        to: &EmailAddress,
        after: DateTime<Utc>,
        page_token: Option<&str>,
    ) -> Result<ProviderRequest, ApiError> {
        let query = format!("in:sent to:{} after:{}", search_address(to)?, after.timestamp().max(0));
        let mut url = self.user_url(&format!(
            "messages?q={}&includeSpamTrash=true&maxResults={SENT_SEARCH_PAGE_SIZE}",
            urlenc::component(&query)
        ));
        push_page_token(&mut url, page_token)?;
        Ok(self.get(token, url))
    }
}

/// An address as a Gmail search value: as it is when made of letters,
/// digits and `.`, `_`, `-`, `@` only, else in double quotes (so `+`,
/// `(`, `{` or a leading `-` keep no search meaning). `EmailAddress` holds
/// no `"`, whitespace or control characters; refused if it did.
fn search_address(to: &EmailAddress) -> Result<String, ApiError> {
    let a = to.as_str();
    if a.is_empty() || a.contains(|c: char| c == '"' || c == '\\' || c.is_whitespace() || c.is_control()) {
        return Err(ApiError::BadId { what: "recipient address", value: a.chars().take(200).collect() });
    }
    let plain =
        a.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@')) && !a.starts_with('-');
    Ok(if plain { a.to_string() } else { format!("\"{a}\"") })
}

fn push_page_token(url: &mut String, page_token: Option<&str>) -> Result<(), ApiError> {
    if let Some(t) = page_token {
        if t.is_empty() || t.len() > 1024 || t.chars().any(char::is_control) {
            return Err(ApiError::BadId { what: "page token", value: t.to_string() });
        }
        url.push_str("&pageToken=");
        url.push_str(&urlenc::component(t));
    }
    Ok(())
}

/// A message that `history.list` reports added.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddedMessage {
    pub id: String,
    /// The history record that added it: a sync that stops after it
    /// resumes from there.
    pub record: Option<u64>,
    pub thread_id: Option<String>,
    pub label_ids: Vec<String>,
}

impl AddedMessage {
    /// Drafts and the mailbox's own sent mail are not customer messages.
    pub fn is_own(&self) -> bool {
        self.label_ids.iter().any(|l| l == "DRAFT" || l == "SENT")
    }
}

/// One page of history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryPage {
    /// Added messages in history order, each once.
    pub added: Vec<AddedMessage>,
    /// The mailbox's current history id: store it once every page is done.
    pub history_id: Option<u64>,
    pub next_page_token: Option<String>,
}

/// What `history.list` said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HistoryOutcome {
    Page(HistoryPage),
    /// HTTP 404: the start id is too old. Resync recent INBOX
    /// (`recent_inbox_list`), then take the history id from a fresh watch
    /// or the newest message.
    TooOld,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HistoryBody {
    #[serde(default)]
    history: Vec<HistoryRecord>,
    history_id: Option<Value>,
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HistoryRecord {
    id: Option<Value>,
    #[serde(default)]
    messages_added: Vec<MessageAdded>,
}

#[derive(Deserialize)]
struct MessageAdded {
    message: Option<MessageRefBody>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MessageRefBody {
    id: Option<String>,
    thread_id: Option<String>,
    #[serde(default)]
    label_ids: Vec<String>,
}

/// Reads `history.list`'s answer (HTTP status, `Retry-After`, body).
pub fn parse_history_response(
    http_status: u16,
    retry_after: Option<&str>,
    body: &[u8],
) -> Result<HistoryOutcome, ApiError> {
    if http_status == 404 {
        return Ok(HistoryOutcome::TooOld);
    }
    check_status(http_status, retry_after, body)?;
    let parsed: HistoryBody = parse_json(body)?;
    let history_id = match &parsed.history_id {
        None => None,
        Some(v) => Some(parse_history_id(v).ok_or_else(|| ApiError::BadResponse(format!("historyId {v}")))?),
    };
    let mut added: Vec<AddedMessage> = Vec::new();
    for record in parsed.history {
        let record_id = record.id.as_ref().and_then(parse_history_id);
        for m in record.messages_added.into_iter().filter_map(|a| a.message) {
            let Some(id) = m.id.filter(|i| !i.is_empty()) else { continue };
            if !added.iter().any(|a| a.id == id) {
                added.push(AddedMessage { id, record: record_id, thread_id: m.thread_id, label_ids: m.label_ids });
            }
        }
    }
    Ok(HistoryOutcome::Page(HistoryPage {
        added,
        history_id,
        next_page_token: parsed.next_page_token.filter(|t| !t.is_empty()),
    }))
}

/// One page of `messages.list`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageListPage {
    /// `(id, threadId)` pairs, newest first as Gmail lists them.
    pub messages: Vec<(String, Option<String>)>,
    pub next_page_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListBody {
    #[serde(default)]
    messages: Vec<MessageRefBody>,
    next_page_token: Option<String>,
}

/// Reads `messages.list`'s answer. An empty mailbox answers `{"resultSizeEstimate": 0}`.
pub fn parse_message_list_response(
    http_status: u16,
    retry_after: Option<&str>,
    body: &[u8],
) -> Result<MessageListPage, ApiError> {
    check_status(http_status, retry_after, body)?;
    let parsed: ListBody = parse_json(body)?;
    Ok(MessageListPage {
        messages: parsed.messages.into_iter().filter_map(|m| Some((m.id?, m.thread_id))).collect(),
        next_page_token: parsed.next_page_token.filter(|t| !t.is_empty()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn api() -> GmailApi {
        GmailApi::new("https://gmail.googleapis.com", "me").unwrap()
    }

    fn token() -> AccessToken {
        AccessToken::new("ya29.tok", Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap()).unwrap()
    }

    #[test]
    fn builds_the_list_requests() {
        let r = api().history_list(&token(), 9876, None).unwrap();
        assert_eq!(r.method, "GET");
        assert_eq!(
            r.url,
            "https://gmail.googleapis.com/gmail/v1/users/me/history?startHistoryId=9876&historyTypes=messageAdded&labelId=INBOX"
        );
        assert_eq!(r.authorization, "Bearer ya29.tok");
        assert_eq!(r.body, "");
        let r = api().history_list(&token(), 1, Some("0123 4")).unwrap();
        assert!(r.url.ends_with("&labelId=INBOX&pageToken=0123%204"), "{}", r.url);
        assert!(api().history_list(&token(), 1, Some("a\nb")).is_err());
        let r = api().recent_inbox_list(&token(), Some("tok")).unwrap();
        assert_eq!(
            r.url,
            "https://gmail.googleapis.com/gmail/v1/users/me/messages?labelIds=INBOX&q=newer_than%3A1d&pageToken=tok"
        );
    }

    #[test]
    fn builds_the_message_id_search() {
        let api = GmailApi::new("http://127.0.0.1:9000/", "support@acme.com").unwrap();
        let r = api.message_id_search(&token(), "<0190a5d27c1e7b3a9f4e2d6c8b1a0e57@acme.com>").unwrap();
        assert_eq!(r.method, "GET");
        assert_eq!(
            r.url,
            "http://127.0.0.1:9000/gmail/v1/users/support%40acme.com/messages?q=rfc822msgid%3A0190a5d27c1e7b3a9f4e2d6c8b1a0e57%40acme.com&includeSpamTrash=true"
        );
        assert_eq!(r.authorization, "Bearer ya29.tok");
        assert_eq!(r.body, "");
        // Without the brackets: the same search.
        let bare = api.message_id_search(&token(), "0190a5d2@acme.com").unwrap();
        assert_eq!(bare.url, api.message_id_search(&token(), " <0190a5d2@acme.com> ").unwrap().url);
        for bad in ["", "<>", "<a b@acme.com>", "<a@acme.com> OR in:inbox", "<a@b>\r\nX: y", "<<a@b>>", "a\"@b"] {
            assert!(matches!(api.message_id_search(&token(), bad), Err(ApiError::BadId { .. })), "{bad:?}");
        }
    }

    #[test]
    fn builds_the_sent_to_search() {
        let api = GmailApi::new("http://127.0.0.1:9000/", "me").unwrap();
        let to = EmailAddress::parse("Jo@Example.com").unwrap();
        let after = Utc.with_ymd_and_hms(2026, 12, 7, 1, 15, 30).unwrap();
        let r = api.sent_to_search(&token(), &to, after, None).unwrap();
        assert_eq!(r.method, "GET");
        assert_eq!(
            r.url,
            "http://127.0.0.1:9000/gmail/v1/users/me/messages?q=in%3Asent%20to%3Ajo%40example.com%20after%3A1796606130&includeSpamTrash=true&maxResults=50"
        );
        assert_eq!(after.timestamp(), 1796606130);
        assert_eq!(r.authorization, "Bearer ya29.tok");
        assert_eq!(r.body, "");
        let r = api.sent_to_search(&token(), &to, after, Some("09876543210987654321")).unwrap();
        assert!(r.url.ends_with("&maxResults=50&pageToken=09876543210987654321"), "{}", r.url);
        assert!(api.sent_to_search(&token(), &to, after, Some("a\nb")).is_err());
        // Search syntax in an address is quoted away.
        let plus = EmailAddress::parse("jo+billing(x)@example.com").unwrap();
        let r = api.sent_to_search(&token(), &plus, after, None).unwrap();
        assert!(r.url.contains("q=in%3Asent%20to%3A%22jo%2Bbilling%28x%29%40example.com%22%20after%3A"), "{}", r.url);
        let dash = EmailAddress::parse("-jo@example.com").unwrap();
        let r = api.sent_to_search(&token(), &dash, after, None).unwrap();
        assert!(r.url.contains("to%3A%22-jo%40example.com%22"), "{}", r.url);
    }

    #[test]
    fn parses_a_sent_to_search() {
        let body = br#"{
          "messages": [
            {"id": "18c9f3b5c8f4e002", "threadId": "18c9f0e1d2c3b4a5"},
            {"id": "18c9f2a4b7e3d001", "threadId": "18c9f2a4b7e3d001"}
          ],
          "nextPageToken": "13609153457412406453",
          "resultSizeEstimate": 51
        }"#;
        let p = parse_message_list_response(200, None, body).unwrap();
        assert_eq!(
            p.messages,
            [
                ("18c9f3b5c8f4e002".to_string(), Some("18c9f0e1d2c3b4a5".to_string())),
                ("18c9f2a4b7e3d001".to_string(), Some("18c9f2a4b7e3d001".to_string()))
            ]
        );
        assert_eq!(p.next_page_token.as_deref(), Some("13609153457412406453"));
        let e = parse_message_list_response(429, Some("5"), br#"{"error":{"code":429,"message":"Too many concurrent requests for user","status":"RESOURCE_EXHAUSTED","errors":[{"domain":"global","reason":"rateLimitExceeded","message":"Too many concurrent requests for user"}]}}"#).unwrap_err();
        assert!(e.retryable());
    }

    #[test]
    fn parses_a_message_id_search() {
        let found = br#"{"messages":[{"id":"18c9f2a4b7e3d001","threadId":"18c9f0e1d2c3b4a5"}],"resultSizeEstimate":1}"#;
        let p = parse_message_list_response(200, None, found).unwrap();
        assert_eq!(p.messages, [("18c9f2a4b7e3d001".to_string(), Some("18c9f0e1d2c3b4a5".to_string()))]);
        assert!(parse_message_list_response(200, None, br#"{"resultSizeEstimate":0}"#).unwrap().messages.is_empty());
    }

    #[test]
    fn parses_a_history_page() {
        let body = br#"{
          "history": [
            {"id": "9877", "messages": [{"id": "18c1", "threadId": "18c0"}],
             "messagesAdded": [{"message": {"id": "18c1", "threadId": "18c0", "labelIds": ["UNREAD", "INBOX"]}}]},
            {"id": "9878", "messages": [{"id": "18c2", "threadId": "18c2"}]},
            {"id": "9879", "messagesAdded": [
               {"message": {"id": "18c3", "threadId": "18c3", "labelIds": ["SENT", "INBOX"]}},
               {"message": {"id": "18c1", "threadId": "18c0"}}]}
          ],
          "nextPageToken": "0987",
          "historyId": "9890"
        }"#;
        let HistoryOutcome::Page(p) = parse_history_response(200, None, body).unwrap() else { panic!() };
        assert_eq!(p.added.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(), ["18c1", "18c3"]);
        assert_eq!(p.added[0].thread_id.as_deref(), Some("18c0"));
        assert!(!p.added[0].is_own() && p.added[1].is_own());
        assert_eq!(p.history_id, Some(9890));
        assert_eq!(p.next_page_token.as_deref(), Some("0987"));
        // Nothing new: only the history id.
        let HistoryOutcome::Page(p) = parse_history_response(200, None, br#"{"historyId": 9890}"#).unwrap() else {
            panic!()
        };
        assert!(p.added.is_empty() && p.next_page_token.is_none());
    }

    #[test]
    fn a_404_means_resync() {
        let body = br#"{"error":{"code":404,"message":"Requested entity was not found.","status":"NOT_FOUND"}}"#;
        assert_eq!(parse_history_response(404, None, body), Ok(HistoryOutcome::TooOld));
        assert!(parse_history_response(429, None, b"").unwrap_err().retryable());
        assert!(parse_history_response(401, None, b"").unwrap_err().unauthorized());
        assert!(matches!(parse_history_response(200, None, b"[]"), Err(ApiError::BadResponse(_))));
        assert!(matches!(parse_history_response(200, None, br#"{"historyId":"x"}"#), Err(ApiError::BadResponse(_))));
    }

    #[test]
    fn parses_a_message_list() {
        let body = br#"{"messages":[{"id":"a1","threadId":"t1"},{"id":"a2","threadId":"a2"}],"nextPageToken":"p2","resultSizeEstimate":2}"#;
        let p = parse_message_list_response(200, None, body).unwrap();
        assert_eq!(
            p.messages,
            [("a1".to_string(), Some("t1".to_string())), ("a2".to_string(), Some("a2".to_string()))]
        );
        assert_eq!(p.next_page_token.as_deref(), Some("p2"));
        let empty = parse_message_list_response(200, None, br#"{"resultSizeEstimate":0}"#).unwrap();
        assert!(empty.messages.is_empty() && empty.next_page_token.is_none());
        assert!(parse_message_list_response(500, None, b"").unwrap_err().retryable());
    }
}
