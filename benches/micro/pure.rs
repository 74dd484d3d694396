//! The groups without IO: state machine, channel formatting, webhook
//! signatures. Every input is checked once (the transition is accepted,
//! the signature verifies) before it is measured, so a broken fixture
//! cannot pass as a fast benchmark.

use chrono::{TimeZone, Utc};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion};
use fte::agent::config::AgentConfig;
use fte::agent::format::{ReplyParts, format_for_channel as render};
use fte::channels::meta::AppSecret;
use fte::channels::slack::{SignatureVerifier, SigningSecret};
use fte::channels::twilio::RequestValidator;
use fte::conversation::{ConversationState, Event, transition as step};
use fte::domain::{Channel, MessageId};
use std::hint::black_box;
use std::time::Duration;

fn quick<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(name);
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(2));
    group
}

/// The two transitions of a follow-up turn: the customer writes again
/// (AwaitingCustomer → Active) and the AI answers (Active →
/// AwaitingCustomer).
pub fn transition(c: &mut Criterion) {
    let first = MessageId::new();
    let (active, _) =
        step(&ConversationState::new(), Event::CustomerMessage { message_id: first, channel: Channel::Email })
            .expect("a first message is accepted");
    let (awaiting, _) = step(&active, Event::AgentReplied { reply_id: MessageId::new(), in_reply_to: first })
        .expect("the reply is accepted");
    let again = MessageId::new();
    let message = Event::CustomerMessage { message_id: again, channel: Channel::Whatsapp };
    let (active, _) = step(&awaiting, message.clone()).expect("a follow-up message is accepted");
    let reply = Event::AgentReplied { reply_id: MessageId::new(), in_reply_to: again };
    assert!(step(&active, reply.clone()).is_ok());

    let mut group = quick(c, "transition");
    group.bench_function("customer_message/awaiting_customer", |b| {
        b.iter(|| step(black_box(&awaiting), black_box(message.clone())))
    });
    group.bench_function("agent_replied/active", |b| b.iter(|| step(black_box(&active), black_box(reply.clone()))));
    group.finish();
}

/// A typical answer: a paragraph with bold UI paths, numbered steps, and a
/// bulleted list with a link.
fn answer() -> ReplyParts {
    ReplyParts {
        first_name: Some("Marisol".into()),
        first_reply: true,
        empathy: Some("I'm sorry the invoice caused you trouble.".into()),
        lead: None,
        paragraphs: vec![
            "You can download any invoice as a PDF from **Settings > Billing > Invoices**. Invoices are issued on \
             the first day of each billing period, and each one lists your plan, the number of seats and any \
             prorated charges from changes made mid-cycle."
                .into(),
            "1. Open **Settings > Billing**.\n2. Select **Invoices**, then the billing period you need.\n3. Click \
             **Download PDF**. To send every new invoice to your accountant, add their address under **Billing \
             contacts**."
                .into(),
            "- Invoices older than 24 months are archived: reply here and we will send them.\n- See [Billing, \
             invoices and payment](https://help.tallyloom.com/billing-invoices-and-payment) for VAT numbers and \
             payment methods."
                .into(),
        ],
        subject: Some("Invoice for March as PDF".into()),
        ticket_ref: Some("TKT-1042".into()),
        holding: false,
    }
}

pub fn format_for_channel(c: &mut Criterion) {
    let config = AgentConfig::default();
    let parts = answer();
    let mut group = quick(c, "format_for_channel");
    for channel in Channel::ALL {
        assert!(!render(channel, &parts, &config).is_empty());
        group.bench_with_input(BenchmarkId::from_parameter(channel.as_str()), &channel, |b, &channel| {
            b.iter(|| render(black_box(channel), black_box(&parts), black_box(&config)))
        });
    }
    group.finish();
}

/// Twilio's WhatsApp webhook as the official SDK signed it (the vector of
/// `channels::twilio::signature`'s tests: `RequestValidator("12345")`).
const TWILIO_URL: &str = "https://support.example.com/twilio/whatsapp?tenant=acme";
const TWILIO_SIGNATURE: &str = "5T6/OYSCWtMdiBnHF3BwOV3zXJ8=";
const TWILIO_PARAMS: &[(&str, &str)] = &[
    ("SmsMessageSid", "SM1f0e8ae6ade43cb3c0ce4525424e404f"),
    ("NumMedia", "1"),
    ("ProfileName", "Marisol Ortega"),
    ("SmsSid", "SM1f0e8ae6ade43cb3c0ce4525424e404f"),
    ("WaId", "447700900418"),
    ("SmsStatus", "received"),
    ("Body", "Olá! My invoice is wrong ✓ & 100% off?"),
    ("To", "whatsapp:+14155238886"),
    ("NumSegments", "1"),
    ("MessageSid", "SM1f0e8ae6ade43cb3c0ce4525424e404f"),
    ("AccountSid", "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"),
    ("From", "whatsapp:+447700900418"),
    ("MediaUrl0", "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"),
    ("MediaContentType0", "image/jpeg"),
    ("ApiVersion", "2010-04-01"),
];

/// A slash-command request as slack_sdk 3.47.0 signed it
/// (`channels/slack/signature_vectors.json`).
const SLACK_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const SLACK_TIMESTAMP: &str = "1531420618";
const SLACK_BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V\
&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2F\
hooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.\
803a0bc887a14d10d2c447fce8b6703c";
const SLACK_SIGNATURE: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

/// Meta's text-message webhook example ("Webhooks reference — messages").
const META_BODY: &str = r#"{
  "object": "whatsapp_business_account",
  "entry": [
    {
      "id": "102290129340398",
      "changes": [
        {
          "value": {
            "messaging_product": "whatsapp",
            "metadata": {
              "display_phone_number": "15550783881",
              "phone_number_id": "106540352242922"
            },
            "contacts": [
              {
                "profile": {
                  "name": "Sheena Nelson"
                },
                "wa_id": "16505551234"
              }
            ],
            "messages": [
              {
                "from": "16505551234",
                "id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
                "timestamp": "1749416383",
                "type": "text",
                "text": {
                  "body": "Does it come in another color?"
                }
              }
            ]
          },
          "field": "messages"
        }
      ]
    }
  ]
}"#;

pub fn signatures(c: &mut Criterion) {
    let mut group = quick(c, "signatures");

    let twilio = RequestValidator::new("12345").expect("a non-empty token");
    let params: Vec<(String, String)> = TWILIO_PARAMS.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    assert!(twilio.validate_form(TWILIO_URL, &params, TWILIO_SIGNATURE).is_ok(), "the SDK's vector verifies");
    group.bench_function("twilio_form", |b| {
        b.iter(|| twilio.validate_form(black_box(TWILIO_URL), black_box(&params), black_box(TWILIO_SIGNATURE)))
    });

    let slack = SignatureVerifier::new(&SigningSecret::new(SLACK_SECRET).expect("a secret"));
    let now = Utc.timestamp_opt(1_531_420_618 + 30, 0).single().expect("a valid time");
    let slack_verify = |body: &[u8]| slack.verify(Some(SLACK_TIMESTAMP), Some(SLACK_SIGNATURE), body, now);
    assert!(slack_verify(SLACK_BODY.as_bytes()).is_ok(), "the SDK's vector verifies");
    group.bench_function("slack_v0", |b| b.iter(|| slack_verify(black_box(SLACK_BODY.as_bytes()))));

    let meta = AppSecret::new("test-app-secret").expect("a non-empty secret");
    // The known vector (python's hmac) first, then Meta's example signed.
    let empty = br#"{"object":"whatsapp_business_account","entry":[]}"#;
    let known = "sha256=c84a394cc475525991e78ff16e430b02e47f953877d2af0ade26956ce6f384dc";
    assert!(meta.verify(empty, Some(known)).is_ok(), "the HMAC vector verifies");
    let header = meta.sign(META_BODY.as_bytes());
    assert!(meta.verify(META_BODY.as_bytes(), Some(&header)).is_ok());
    group.bench_function("meta_x_hub_signature_256", |b| {
        b.iter(|| meta.verify(black_box(META_BODY.as_bytes()), black_box(Some(header.as_str()))))
    });
    group.finish();
}
