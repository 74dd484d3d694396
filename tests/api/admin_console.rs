//! The operator console in a real browser (Debian's headless Chromium over
//! WebDriver), end to end against `fte serve`: a customer asks for a human
//! on WhatsApp (a webhook signed by the official `twilio` SDK), so the
//! conversation escalates; an agent signs in at `/admin` with an API key,
//! finds it in the escalation queue, opens it, claims it and replies in the
//! reply box; the local fake of Twilio's Messages API receives exactly that
//! reply for the customer's number, and the audit log has the claim and the
//! reply. Then the other views (approvals, actors, channel health) and
//! signing out.

use crate::common::fake_provider::{FakeProvider, Recorded, signed_webhook};
use crate::common::webdriver::{Browser, Scope};
use crate::common::{TestDb, spawn_serve, tenant_count};
use fte::auth::{Role, create_key};
use fte::crm::{MergePolicy, upsert_account};
use fte::domain::Provider;
use serde_json::json;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use uuid::Uuid;

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "twilio-console-test-token";
const BUSINESS: &str = "+31208084417";
const CUSTOMER: &str = "+31612345678";
const REPLY: &str = "Hi Jo, this is Ana from support. Your export is fixed: please try it again now.";

fn accept(_: &Recorded) -> (u16, Vec<(String, String)>, String) {
    let sid = format!("SM{}", Uuid::new_v4().simple());
    (201, vec![], json!({ "sid": sid, "status": "queued", "account_sid": SID }).to_string())
}

fn inbound(sid: &str, body: &str) -> Vec<String> {
    vec![
        format!("MessageSid={sid}"),
        format!("SmsMessageSid={sid}"),
        format!("AccountSid={SID}"),
        format!("From=whatsapp:{CUSTOMER}"),
        format!("To=whatsapp:{BUSINESS}"),
        format!("Body={body}"),
        "ProfileName=Jo Doe".into(),
        format!("WaId={}", CUSTOMER.trim_start_matches('+')),
        "NumMedia=0".into(),
    ]
}

/// `fte serve`, stopped when the test ends, also by a failed assertion.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

/// A future's panic as a value, so the browser can be closed before the
/// test fails (dropping the WebDriver client alone leaves Chromium running).
struct CatchUnwind<F>(Pin<Box<F>>);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = std::thread::Result<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match std::panic::catch_unwind(AssertUnwindSafe(|| self.0.as_mut().poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}

/// Waits until the element's text is `want`.
async fn wait_text(browser: &Browser, css: &str, want: &str, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let element = browser.find(&Scope::Document, css, within).await;
        let text = browser.text(&element).await;
        if text.trim() == want {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{css} shows {text:?}, not {want:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until the element's text contains `want`.
async fn wait_contains(browser: &Browser, css: &str, want: &str, within: Duration) -> String {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let element = browser.find(&Scope::Document, css, within).await;
        let text = browser.text(&element).await;
        if text.contains(want) {
            return text;
        }
        assert!(tokio::time::Instant::now() < deadline, "{css} shows {text:?}, without {want:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// In the console: sign in, find the escalation, open it, claim it, reply.
async fn agent_answers(browser: &Browser, base: &str, agent: &str, conversation: Uuid, customer: Uuid) {
    // The agent signs in.
    let long = Duration::from_secs(20);
    browser.goto(&format!("{base}/admin")).await;
    let key = browser.find(&Scope::Document, "[data-testid=api-key]", long).await;
    browser.type_into(&key, agent).await;
    browser.click(&browser.find(&Scope::Document, "[data-testid=sign-in]", long).await).await;
    wait_text(browser, "[data-testid=signed-in-as]", "Ana (agent)", long).await;

    // The escalation is in the queue; opening it shows the transcript.
    let row = format!("[data-testid=escalation-row][data-conversation-id=\"{conversation}\"]");
    let status = format!("{row} [data-testid=escalation-status]");
    wait_text(browser, &status, "open", long).await;
    browser.click(&browser.find(&Scope::Document, &row, long).await).await;
    wait_text(browser, "[data-testid=conversation-state]", "escalated", long).await;
    wait_text(browser, "[data-testid=conversation-channel]", "whatsapp", long).await;
    wait_contains(
        browser,
        "[data-testid=message][data-direction=inbound] [data-testid=message-body]",
        "I want to talk to a human",
        long,
    )
    .await;

    // Claim, then reply.
    browser.click(&browser.find(&Scope::Document, "[data-testid=claim]", long).await).await;
    wait_text(browser, "[data-testid=conversation-state]", "human_active", long).await;
    wait_contains(browser, &status, "claimed by Ana", long).await;
    let reply_box = browser.find(&Scope::Document, "[data-testid=reply-body]", long).await;
    browser.type_into(&reply_box, REPLY).await;
    browser.click(&browser.find(&Scope::Document, "[data-testid=reply-send]", long).await).await;
    wait_text(
        browser,
        "[data-testid=transcript] [data-testid=message]:last-child [data-testid=message-body]",
        REPLY,
        long,
    )
    .await;
    let notice = browser.find(&Scope::Document, "[data-testid=notice]", long).await;
    assert_eq!(browser.attribute(&notice, "data-kind").await.as_deref(), Some("info"));

    // The other views: no drafts waiting, the customer's actor resident (the
    // runtime's counters are for supervisors), the WhatsApp channel healthy.
    browser.click(&browser.find(&Scope::Document, "[data-testid=tab-approvals]", long).await).await;
    browser.find(&Scope::Document, "[data-empty=approvals]:not([hidden])", long).await;
    browser.click(&browser.find(&Scope::Document, "[data-testid=tab-actors]", long).await).await;
    wait_contains(browser, "[data-testid=actors-table]", &customer.to_string(), long).await;
    wait_contains(browser, "[data-testid=runtime-stats]", "supervisor", long).await;
    browser.click(&browser.find(&Scope::Document, "[data-testid=tab-channels]", long).await).await;
    wait_text(browser, "[data-testid=health-status]", "ok", long).await;
    wait_text(browser, "[data-testid=channel-row][data-channel=whatsapp] [data-testid=channel-status]", "ok", long)
        .await;

    // Signing out returns to the sign-in form.
    browser.click(&browser.find(&Scope::Document, "[data-testid=sign-out]", long).await).await;
    browser.find(&Scope::Document, "[data-testid=api-key]", long).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_claims_and_answers_an_escalation_from_the_console() {
    let db = TestDb::new().await;
    let tenant = db.tenant("tallyloom", MergePolicy::Manual).await.id;
    let (_, agent) = create_key(&db.pool, Some(tenant), Role::Agent, "Ana").await.unwrap();
    let fake = FakeProvider::start(accept).await;
    let (child, addr) = spawn_serve(&db.url, &[("FTE_TEST_TWILIO_TOKEN", TOKEN)]);
    let _serve = KillOnDrop(child);
    let base = format!("http://{addr}");
    upsert_account(
        &db.pool,
        tenant,
        Provider::Twilio,
        BUSINESS,
        &json!({ "account_sid": SID, "auth_token_env": "FTE_TEST_TWILIO_TOKEN", "base_url": fake.base_url }),
    )
    .await
    .unwrap();

    // The customer asks for a person on WhatsApp: escalated, with a holding reply.
    let hook = format!("{base}/webhooks/twilio/whatsapp");
    let form = inbound("SM0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c", "My invoice export is broken, I want to talk to a human");
    let mut args = vec!["twilio", hook.as_str(), TOKEN];
    args.extend(form.iter().map(String::as_str));
    let (status, body) = signed_webhook(&args);
    assert_eq!(status, 200, "{body}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while tenant_count(&db, tenant, "SELECT count(*) FROM escalations WHERE status = 'open'").await < 1 {
        assert!(tokio::time::Instant::now() < deadline, "the conversation never escalated");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let holding = fake.wait_for(1, Duration::from_secs(20)).await;
    assert_ne!(holding[0].form_value("Body").as_deref(), Some(REPLY));
    let (conversation, customer): (Uuid, Uuid) = {
        let mut tx = fte::db::begin_tenant(&db.pool, tenant).await.unwrap();
        let ids =
            sqlx::query_as("SELECT conversation_id, customer_id FROM escalations").fetch_one(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
        ids
    };

    // The agent works in the browser; it is closed even when a step fails.
    let browser = Browser::start().await;
    let driven = CatchUnwind(Box::pin(agent_answers(&browser, &base, &agent, conversation, customer))).await;
    browser.quit().await;
    if let Err(panic) = driven {
        std::panic::resume_unwind(panic);
    }

    // The fake Twilio received exactly that reply, for the customer's number.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let sent = loop {
        let sent: Vec<Recorded> =
            fake.requests().into_iter().filter(|r| r.form_value("Body").as_deref() == Some(REPLY)).collect();
        if !sent.is_empty() {
            break sent;
        }
        assert!(tokio::time::Instant::now() < deadline, "the reply never reached the provider: {:?}", fake.requests());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sent.len(), 1, "sent once");
    assert_eq!(fake.requests().len(), 2, "the holding reply and the human's reply, nothing else");
    let req = &sent[0];
    assert_eq!(
        (req.method.as_str(), req.path.as_str()),
        ("POST", format!("/2010-04-01/Accounts/{SID}/Messages.json").as_str())
    );
    assert_eq!(req.form_value("To"), Some(format!("whatsapp:{CUSTOMER}")));
    assert_eq!(req.form_value("From"), Some(format!("whatsapp:{BUSINESS}")));

    // The audit log has the claim and the reply, by the agent's key.
    let mut tx = fte::db::begin_tenant(&db.pool, tenant).await.unwrap();
    let audited: Vec<(String, String)> = sqlx::query_as(
        "SELECT action, actor FROM audit_log WHERE target_type = 'conversation' AND target_id = $1 ORDER BY id",
    )
    .bind(conversation.to_string())
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let actions: Vec<&str> = audited.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(actions, ["conversation.claim", "conversation.reply"], "{audited:?}");
    assert!(audited.iter().all(|(_, actor)| actor.ends_with(":Ana")), "{audited:?}");
    let mut tx = fte::db::begin_system_job(&db.pool, fte::db::SystemJob::ApiAuth).await.unwrap();
    let sessions: i64 = sqlx::query_scalar("SELECT count(*) FROM admin_sessions").fetch_one(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(sessions, 0, "signing out ended the session");
}
