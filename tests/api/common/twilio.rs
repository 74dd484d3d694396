//! A fake of Twilio's Messages API that keeps what it accepted:
//! `POST …/Messages.json` accepts (201, the message resource) and
//! `GET …/Messages.json?To=…` lists the accepted messages, newest first,
//! in Twilio's page format — the lookup the dispatcher makes before it
//! sends a reply that may have been accepted already.

use super::fake_provider::{Recorded, Reply};
use serde_json::json;
use std::sync::{Arc, Mutex};

/// What the fake accepted: (sid, to, body), oldest first.
pub type Accepted = Arc<Mutex<Vec<(String, String, String)>>>;

/// The Messages API of account `account` whose WhatsApp number is `business`.
pub fn messages_api(
    account: &'static str,
    business: &'static str,
    accepted: Accepted,
) -> impl Fn(&Recorded) -> Reply + Send + Sync + 'static {
    move |rec: &Recorded| {
        let now = chrono::Utc::now().to_rfc2822();
        let resource = |sid: &str, to: &str, from: Option<String>, body: &str, status: &str, sent: Option<&str>| {
            json!({
                "sid": sid, "account_sid": account, "to": to, "from": from, "body": body,
                "status": status, "direction": "outbound-api", "date_created": now, "date_updated": now,
                "date_sent": sent, "num_segments": "1", "num_media": "0", "price": null, "price_unit": "USD",
                "error_code": null, "error_message": null, "api_version": "2010-04-01",
                "uri": format!("/2010-04-01/Accounts/{account}/Messages/{sid}.json"),
            })
        };
        if rec.method == "POST" {
            let sid = format!("SM{}", uuid::Uuid::new_v4().simple());
            let to = rec.form_value("To").unwrap_or_default();
            let body = rec.form_value("Body").unwrap_or_default();
            accepted.lock().unwrap().push((sid.clone(), to.clone(), body.clone()));
            return (201, vec![], resource(&sid, &to, rec.form_value("From"), &body, "queued", None).to_string());
        }
        let query = rec.query_pairs();
        let to = query.iter().find(|(k, _)| k == "To").map(|(_, v)| v.clone());
        let messages: Vec<_> = accepted
            .lock()
            .unwrap()
            .iter()
            .rev()
            .filter(|(_, t, _)| to.as_ref().is_none_or(|want| want == t))
            .map(|(sid, t, body)| resource(sid, t, Some(format!("whatsapp:{business}")), body, "sent", Some(&now)))
            .collect();
        let uri = format!("/2010-04-01/Accounts/{account}/Messages.json?PageSize=50&Page=0");
        let page = json!({
            "messages": messages, "page": 0, "page_size": 50, "start": 0, "end": 0,
            "uri": uri, "first_page_uri": uri, "next_page_uri": null, "previous_page_uri": null,
        });
        (200, vec![], page.to_string())
    }
}
