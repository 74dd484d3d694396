//! The local agent through the live path (identity, conversation actor,
//! agent brain, formatter, commit), seed 000's transition gate: an empty
//! message asks what the customer needs; pricing escalates and answers
//! nothing; an angry customer escalates; email has greeting, signature,
//! ticket reference and ≤ 500 words; WhatsApp stays under its hard cap;
//! `create_ticket` first and `send_response` last. Also: low confidence
//! makes a draft the customer never sees, a customer who writes again to
//! an escalated conversation gets one holding reply, and every sample
//! ticket's answer, sent on WhatsApp, fits in 300 characters with its
//! best-ranked sentence kept.

use crate::common::{TestDb, context_dir, email, runtime_with, sample_tickets};
use fte::agent::config::AgentConfig;
use fte::agent::format::{
    EMAIL_MAX_WORDS, WHATSAPP_MAX_CHARS, WHATSAPP_MORE, WHATSAPP_PREFERRED_CHARS, format_for_channel, is_emoji,
    whatsapp_markup,
};
use fte::agent::guardrails::rules;
use fte::agent::tools::{CreateTicketInput, TurnTools};
use fte::agent::{AgentBrain, answer_budget, local};
use fte::crm::MergePolicy;
use fte::db::begin_tenant;
use fte::domain::{
    Channel, ConversationId, CustomerId, Identifier, InboundMessage, MessageId, PhoneNumber, Priority, TenantId,
};
use fte::kb::{self, KbSearch, MiniLmEmbedder};
use fte::runtime::{Runtime, RuntimeConfig};
use serde_json::Value;
use std::sync::Arc;

fn whatsapp(tenant: TenantId, phone: &str, id: &str, body: &str) -> InboundMessage {
    InboundMessage {
        channel: Channel::Whatsapp,
        sender: Identifier::Whatsapp(PhoneNumber::parse(phone).unwrap()),
        subject: None,
        display_name: Some("Jo Silva".into()),
        ..email(tenant, "unused@example.com", id, body)
    }
}

/// What one turn did: (decision, reason, tool names, reply text).
async fn turn(
    db: &TestDb,
    tenant: TenantId,
    message: MessageId,
) -> (String, Option<String>, Vec<String>, Option<String>) {
    let mut tx = begin_tenant(&db.pool, tenant).await.unwrap();
    let (decision, reason, calls): (String, Option<String>, Value) =
        sqlx::query_as("SELECT decision, reason, tool_calls FROM agent_turns WHERE inbound_message = $1")
            .bind(message)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    let reply: Option<String> =
        sqlx::query_scalar("SELECT body FROM messages WHERE in_reply_to = $1 AND direction = 'outbound'")
            .bind(message)
            .fetch_optional(&mut *tx)
            .await
            .unwrap();
    tx.commit().await.unwrap();
    let tools = calls.as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_string()).collect();
    (decision, reason, tools, reply)
}

async fn start(db: &TestDb, tenant: TenantId) -> Arc<Runtime> {
    let embedder = Arc::new(MiniLmEmbedder::load(&MiniLmEmbedder::default_dir()).expect("MiniLM model (make setup)"));
    let articles = kb::read_articles(&context_dir().join("product-docs")).unwrap();
    kb::ingest(&db.pool, tenant, embedder.as_ref(), &articles).await.unwrap();
    let brain = Arc::new(AgentBrain::new(db.pool.clone(), embedder, Arc::new(KbSearch::new())));
    runtime_with(db, brain, RuntimeConfig::default()).await
}

#[tokio::test]
async fn the_transition_gate_of_seed_000() {
    let db = TestDb::new().await;
    let tenant = db.tenant("tallyloom", MergePolicy::Manual).await.id;
    let runtime = start(&db, tenant).await;
    let config = AgentConfig::default();

    // Empty message: ask what they need, no crash, no escalation.
    let r = runtime.submit(email(tenant, "empty@example.com", "e1", "   ")).await.unwrap();
    let (decision, _, tools, reply) = turn(&db, tenant, r.message_id).await;
    assert_eq!(decision, "reply");
    assert!(reply.unwrap().contains("what you need help with"));
    assert_eq!(tools.first().map(String::as_str), Some("create_ticket"));
    assert_eq!(tools.last().map(String::as_str), Some("send_response"));

    // Pricing: escalates, answers nothing (no figures, no plan talk).
    let r = runtime
        .submit(email(
            tenant,
            "buyer@example.com",
            "p1",
            "What would 40 Pro seats cost per year? And how do I export a report?",
        ))
        .await
        .unwrap();
    let (decision, reason, tools, reply) = turn(&db, tenant, r.message_id).await;
    assert_eq!((decision.as_str(), reason.as_deref()), ("escalate", Some("pricing_inquiry")));
    assert!(!tools.contains(&"search_knowledge_base".to_string()), "no retrieval for an escalation: {tools:?}");
    let reply = reply.unwrap();
    assert!(reply.contains("sales team"), "{reply}");
    assert!(!reply.contains('$') && !reply.contains("€") && !reply.to_lowercase().contains("export"), "{reply}");
    assert!(!reply.contains("pricing_inquiry"), "reason codes stay internal: {reply}");

    // An angry customer: escalated to a person (never argued with).
    let r = runtime
        .submit(email(
            tenant,
            "angry@example.com",
            "a1",
            "This is RIDICULOUS. Third time your app has eaten my timesheet. Useless.",
        ))
        .await
        .unwrap();
    let (decision, reason, _, reply) = turn(&db, tenant, r.message_id).await;
    assert_eq!((decision.as_str(), reason.as_deref()), ("escalate", Some("negative_sentiment")));
    assert!(reply.unwrap().contains("personally follow up"));

    // Email: greeting, ticket reference, signature, ≤ 500 words; the
    // answer comes from the knowledge base.
    let r = runtime
        .submit(email(
            tenant,
            "ana@example.com",
            "m1",
            "My password reset link says it has expired. How long are they valid?",
        ))
        .await
        .unwrap();
    let (decision, _, tools, reply) = turn(&db, tenant, r.message_id).await;
    assert_eq!(decision, "reply");
    assert!(tools.contains(&"search_knowledge_base".to_string()));
    assert_eq!(tools.last().map(String::as_str), Some("send_response"));
    let reply = reply.unwrap();
    assert!(reply.starts_with("Hello,") || reply.starts_with("Dear "), "{reply}");
    assert!(reply.contains("TKT-"), "{reply}");
    assert!(reply.ends_with(&config.email_signature()), "{reply}");
    assert!(reply.split_whitespace().count() <= EMAIL_MAX_WORDS);
    assert!(reply.contains("60 minutes"), "{reply}");

    // The same customer then asks for money back: escalated, and the humans
    // get the whole conversation handed over.
    let r = runtime
        .submit(email(
            tenant,
            "ana@example.com",
            "m2",
            "We were charged twice this month, please refund the second charge.",
        ))
        .await
        .unwrap();
    let (decision, reason, _, _) = turn(&db, tenant, r.message_id).await;
    assert_eq!((decision.as_str(), reason.as_deref()), ("escalate", Some("refund_request")));
    let mut tx = begin_tenant(&db.pool, tenant).await.unwrap();
    let (summary, urgency): (String, String) = sqlx::query_as(
        "SELECT summary, urgency FROM escalations WHERE conversation_id = $1 ORDER BY created_at DESC LIMIT 1",
    )
    .bind(r.conversation_id)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert!(summary.contains("charged twice") && summary.contains("password reset link"), "{summary}");
    assert_eq!(urgency, "high");

    // WhatsApp: introduces Robin in the first reply, under the hard cap,
    // WhatsApp styling only.
    let r = runtime.submit(whatsapp(tenant, "+351912345678", "w1", "how do i turn on two factor auth?")).await.unwrap();
    let (_, _, _, reply) = turn(&db, tenant, r.message_id).await;
    let reply = reply.unwrap();
    assert!(reply.starts_with("Hi Jo! I'm Robin"), "{reply}");
    assert!(reply.chars().count() <= WHATSAPP_MAX_CHARS, "{} chars", reply.chars().count());
    assert!(!reply.contains("**"), "{reply}");

    // A bare "HUMAN" on WhatsApp escalates; the holding reply is short.
    let r = runtime.submit(whatsapp(tenant, "+351912000000", "w2", "HUMAN")).await.unwrap();
    let (decision, reason, _, reply) = turn(&db, tenant, r.message_id).await;
    assert_eq!((decision.as_str(), reason.as_deref()), ("escalate", Some("human_requested")));
    assert!(reply.unwrap().chars().count() <= 300);

    // Writing again while escalated: one holding reply, then silence until
    // a human acts; the AI never answers.
    let again = runtime.submit(whatsapp(tenant, "+351912000000", "w3", "hello? is anyone there")).await.unwrap();
    assert_eq!(again.replies.len(), 1);
    let third = runtime.submit(whatsapp(tenant, "+351912000000", "w4", "still waiting")).await.unwrap();
    assert!(third.replies.is_empty());
    runtime.shutdown().await;
}

#[tokio::test]
async fn below_the_tenants_threshold_the_reply_waits_for_a_human() {
    let db = TestDb::new().await;
    let tenant = db.tenant("tallyloom", MergePolicy::Manual).await.id;
    AgentConfig { approval_threshold: 1.0, ..AgentConfig::default() }.store(&db.pool, tenant).await.unwrap();
    let runtime = start(&db, tenant).await;
    let r = runtime
        .submit(email(tenant, "ana@example.com", "m1", "How long is a password reset link valid for?"))
        .await
        .unwrap();
    assert!(r.replies.is_empty(), "the customer gets nothing before approval");
    let (decision, _, _, reply) = turn(&db, tenant, r.message_id).await;
    assert_eq!(decision, "draft");
    assert!(reply.is_none());
    let mut tx = begin_tenant(&db.pool, tenant).await.unwrap();
    let (status, draft): (String, String) =
        sqlx::query_as("SELECT status, draft FROM approvals WHERE inbound_message = $1")
            .bind(r.message_id)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    let state: String = sqlx::query_scalar("SELECT state FROM conversations WHERE id = $1")
        .bind(r.conversation_id)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(status, "pending");
    assert!(draft.contains("60 minutes"), "{draft}");
    assert_eq!(state, "awaiting_approval");
    runtime.shutdown().await;
}

/// Whether the WhatsApp `text` keeps `key` whole, or starts with a
/// shortening of it (its beginning, cut at a word, then "…"). Emoji and
/// spacing aside: a cut message gives up its emoji.
fn keeps_key(text: &str, key: &str) -> bool {
    let norm = |s: &str| -> String {
        s.chars().filter(|c| !is_emoji(*c)).collect::<String>().split_whitespace().collect::<Vec<_>>().join(" ")
    };
    let body = norm(text.strip_suffix(WHATSAPP_MORE).unwrap_or(text));
    let key = norm(key);
    if body.contains(&key) {
        return true;
    }
    let shortened = body.strip_suffix('…').unwrap_or(&body);
    shortened.chars().count() >= 100 && key.starts_with(shortened)
}

/// Every sample ticket's message (all channels), answered by the local
/// brain as if it came on WhatsApp, then shaped for WhatsApp as a first
/// reply or a later one, with and without an empathy line (and once after
/// the brain's "I'm Robin" line, as for "are you a bot?"): at most 300
/// characters with the "Reply for more help" marker, and the answer's
/// best-ranked sentence is there, or its beginning.
#[tokio::test]
async fn whatsapp_answers_to_the_sample_tickets_fit_and_keep_their_best_sentence() {
    let db = TestDb::new().await;
    let tenant = db.tenant("tallyloom", MergePolicy::Manual).await.id;
    let embedder = MiniLmEmbedder::load(&MiniLmEmbedder::default_dir()).expect("MiniLM model (make setup)");
    let articles = kb::read_articles(&context_dir().join("product-docs")).unwrap();
    kb::ingest(&db.pool, tenant, &embedder, &articles).await.unwrap();
    let search = KbSearch::new();
    let config = AgentConfig::default();
    let empathy = "I'm sorry this got in the way of your work — here's how to sort it out.".to_string();
    let (mut answered, mut cut) = (0, 0);
    for ticket in sample_tickets() {
        let id = ticket["id"].as_str().unwrap();
        let message = ticket["message"].as_str().unwrap();
        if rules::is_empty_or_friendly_emoji(message) {
            continue; // answered before any search: "what can I help with?"
        }
        let mut tools = TurnTools {
            pool: &db.pool,
            tenant,
            customer: CustomerId::new(),
            conversation: ConversationId::new(),
            new_conversation: true,
            channel: Channel::Whatsapp,
            embedder: &embedder,
            kb: &search,
            config: &config,
            calls: Vec::new(),
            ticket: None,
            escalation: None,
            response: None,
            searches: 0,
            hits: Vec::new(),
        };
        tools
            .create_ticket(CreateTicketInput { subject: None, category: None, priority: Priority::Medium })
            .await
            .unwrap();
        let answer = local::retrieve_answer(&mut tools, None, message, answer_budget(Channel::Whatsapp)).await.unwrap();
        let local::Retrieved::Answer(answer) = answer else { continue };
        answered += 1;
        let lead = answer.lead.clone().unwrap_or_else(|| panic!("{id}: a condensed answer has a best sentence"));
        let key = whatsapp_markup(&lead);
        // The brain puts this line first when a later message asks whether
        // it is a bot: the answer's first sentence is then not its best one.
        let bot_line = "I'm Robin, Tallyloom's AI assistant — happy to help with this.";
        let variants = [
            (true, None, false),
            (true, Some(empathy.clone()), false),
            (false, None, false),
            (false, Some(empathy.clone()), false),
            (false, Some(empathy.clone()), true),
        ];
        for (first_reply, empathy, asked_if_bot) in variants {
            let mut parts = local::answer_parts(&answer, Some("Jo".into()), first_reply, empathy);
            if asked_if_bot {
                parts.paragraphs.insert(0, bot_line.to_string());
            }
            let text = format_for_channel(Channel::Whatsapp, &parts, &config);
            let n = text.chars().count();
            assert!(n <= WHATSAPP_PREFERRED_CHARS, "{id}: {n} characters:\n{text}");
            assert!(keeps_key(&text, &key), "{id}: lost the best sentence {key:?}:\n{text}");
            cut += usize::from(text.ends_with(WHATSAPP_MORE));
        }
    }
    assert!(answered >= 40, "only {answered} sample tickets were answered");
    eprintln!("{answered} answers, {cut} of {} renderings cut", answered * 5);
}
