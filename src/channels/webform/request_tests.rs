//! Tests of the support form's request checks: every field's rules, the
//! honeypot, unknown and repeated members, malformed bodies.

use super::*;
use serde_json::json;

fn valid() -> serde_json::Map<String, Value> {
    let v = json!({
        "name": "  Mikko Laine ",
        "email": "Mikko.Laine@Saaristo-Works.fi",
        "phone": "+358 40 123 4567",
        "subject": "Very slow in the office, fine at home",
        "category": "technical",
        "message": "Tallyloom is painfully slow on our office network.\r\nFrom home it works fine.\t(proxy)",
        "website": "",
        "widget_key": "wk_tallyloom-01",
    });
    match v {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

fn parse_map(m: &serde_json::Map<String, Value>) -> Result<Submission, RequestError> {
    TicketRequest::parse(serde_json::to_string(m).unwrap().as_bytes())
}

fn with(field: &str, value: Value) -> Result<Submission, RequestError> {
    let mut m = valid();
    m.insert(field.to_string(), value);
    parse_map(&m)
}

fn without(field: &str) -> Result<Submission, RequestError> {
    let mut m = valid();
    m.remove(field);
    parse_map(&m)
}

fn ticket(r: Result<Submission, RequestError>) -> TicketRequest {
    match r {
        Ok(Submission::Ticket(t)) => t,
        other => panic!("expected a ticket, got {other:?}"),
    }
}

/// The fields that have errors, in order.
fn error_fields(r: Result<Submission, RequestError>) -> Vec<String> {
    match r {
        Err(RequestError::Invalid(errors)) => errors.into_iter().map(|e| e.field).collect(),
        other => panic!("expected field errors, got {other:?}"),
    }
}

fn s(n: usize, c: char) -> Value {
    Value::String(std::iter::repeat_n(c, n).collect())
}

#[test]
fn parses_a_valid_submission_trimmed_and_normalised() {
    let t = ticket(parse_map(&valid()));
    assert_eq!(t.name, "Mikko Laine");
    assert_eq!(t.email.as_str(), "mikko.laine@saaristo-works.fi");
    assert_eq!(t.phone.unwrap().as_str(), "+358401234567");
    assert_eq!(t.subject, "Very slow in the office, fine at home");
    assert_eq!(t.category, Category::Technical);
    assert_eq!(t.message, "Tallyloom is painfully slow on our office network.\nFrom home it works fine.\t(proxy)");
    assert_eq!(t.widget_key, "wk_tallyloom-01");
}

#[test]
fn optional_members_may_be_absent_null_or_blank() {
    for r in [without("phone"), with("phone", Value::Null), with("phone", json!("   "))] {
        assert_eq!(ticket(r).phone, None);
    }
    for r in [without("website"), with("website", Value::Null), with("website", json!(" \n "))] {
        ticket(r);
    }
}

#[test]
fn name_limits() {
    assert_eq!(ticket(with("name", s(100, 'é'))).name.chars().count(), 100);
    assert_eq!(ticket(with("name", json!("J"))).name, "J");
    for bad in [s(101, 'a'), json!(""), json!("   "), json!("Ann\u{0}"), json!("Ann\nLee"), json!(null), json!(7)] {
        assert_eq!(error_fields(with("name", bad.clone())), ["name"], "{bad}");
    }
    assert_eq!(error_fields(without("name")), ["name"]);
}

#[test]
fn email_must_parse() {
    for bad in [json!("not-an-email"), json!("a@"), json!("Name <a@b.com>"), json!(""), json!(["a@b.com"])] {
        assert_eq!(error_fields(with("email", bad.clone())), ["email"], "{bad}");
    }
    assert_eq!(error_fields(without("email")), ["email"]);
}

#[test]
fn phone_must_be_international() {
    for bad in [json!("020 808 4417"), json!("+31 20 ext 5"), json!("+123"), json!(31208084417u64)] {
        assert_eq!(error_fields(with("phone", bad.clone())), ["phone"], "{bad}");
    }
    assert_eq!(ticket(with("phone", json!("0031 20 808 4417"))).phone.unwrap().as_str(), "+31208084417");
}

#[test]
fn subject_limits() {
    assert_eq!(ticket(with("subject", s(200, '🙂'))).subject.chars().count(), 200);
    for bad in [s(201, 'a'), json!(" "), json!("Tab\there"), json!("bell\u{7}"), json!("c1\u{85}c2"), json!(true)] {
        assert_eq!(error_fields(with("subject", bad.clone())), ["subject"], "{bad}");
    }
}

#[test]
fn category_must_be_listed() {
    for c in Category::ALL {
        assert_eq!(ticket(with("category", json!(c.as_str()))).category, c);
    }
    assert_eq!(ticket(with("category", json!(" billing "))).category, Category::Billing);
    for bad in [json!("Billing"), json!("bug_report"), json!(""), json!(null), json!(3)] {
        assert_eq!(error_fields(with("category", bad.clone())), ["category"], "{bad}");
    }
}

#[test]
fn message_limits() {
    assert_eq!(ticket(with("message", s(10, 'x'))).message.len(), 10);
    assert_eq!(ticket(with("message", s(5000, '日'))).message.chars().count(), 5000);
    // Whitespace around the text does not count.
    let padded = format!("   {}\n\n", "x".repeat(9));
    assert_eq!(error_fields(with("message", json!(padded))), ["message"]);
    for bad in [s(9, 'x'), s(5001, 'x'), json!("hello\u{1b}[31m world"), json!("nul \u{0} in text"), json!({})] {
        assert_eq!(error_fields(with("message", bad.clone())), ["message"]);
    }
    // CR and CRLF become LF; CR-only counts once per break.
    assert_eq!(ticket(with("message", json!("line one\rline two"))).message, "line one\nline two");
    let crlf = format!("{}\r\n{}", "a".repeat(2500), "b".repeat(2499));
    assert_eq!(ticket(with("message", json!(crlf))).message.chars().count(), 5000);
}

#[test]
fn widget_key_limits() {
    let long: String = "k".repeat(128);
    assert_eq!(ticket(with("widget_key", json!(long))).widget_key.len(), 128);
    for bad in [json!("k".repeat(129)), json!(""), json!("key with space"), json!("kéy"), json!("a/b"), json!(1)] {
        assert_eq!(error_fields(with("widget_key", bad.clone())), ["widget_key"], "{bad}");
    }
    assert_eq!(error_fields(without("widget_key")), ["widget_key"]);
}

#[test]
fn reports_every_error_at_once_in_form_order() {
    let body = json!({
        "zzz": 1,
        "message": "short",
        "widget_key": "",
        "category": "nope",
        "subject": "",
        "phone": "12",
        "email": "x",
        "name": "",
        "website": "",
    });
    let r = TicketRequest::parse(body.to_string().as_bytes());
    assert_eq!(error_fields(r), ["name", "email", "phone", "subject", "category", "message", "widget_key", "zzz"]);
    let err = TicketRequest::parse(b"{}").unwrap_err();
    assert_eq!(err.field_errors().len(), 6, "all required members: {err}");
    assert_eq!(err.http_status(), 422);
}

#[test]
fn unknown_and_repeated_members_are_rejected() {
    assert_eq!(error_fields(with("Name", json!("x"))), ["Name"]);
    assert_eq!(error_fields(with("tenant_id", json!("abc"))), ["tenant_id"]);
    let repeated = r#"{"name":"Ann","name":"Bob","email":"a@b.co","subject":"Hi","category":"general",
        "message":"Hello there, a question.","widget_key":"k"}"#;
    assert_eq!(error_fields(TicketRequest::parse(repeated.as_bytes())), ["name"]);
    // Long names are cut, and a flood of unknown members is summarised.
    let mut m = valid();
    m.insert("x".repeat(500), json!(1));
    let errs = match parse_map(&m) {
        Err(RequestError::Invalid(e)) => e,
        other => panic!("{other:?}"),
    };
    assert_eq!(errs[0].field.chars().count(), 64);
    let mut m = valid();
    for i in 0..100 {
        m.insert(format!("extra{i}"), json!(i));
    }
    let fields = error_fields(parse_map(&m));
    assert_eq!(fields.len(), 21);
    assert_eq!(fields[20], "");
}

#[test]
fn a_filled_honeypot_is_spam_whatever_else_is_sent() {
    assert_eq!(
        with("website", json!("http://spam.example")),
        Ok(Submission::Spam { widget_key: Some("wk_tallyloom-01".into()) })
    );
    for v in [json!(0), json!(false), json!([]), json!({"a": 1})] {
        assert!(matches!(with("website", v), Ok(Submission::Spam { .. })));
    }
    let bot = json!({"website": "x", "name": "", "unknown": 1, "widget_key": "bad key"});
    assert_eq!(TicketRequest::parse(bot.to_string().as_bytes()), Ok(Submission::Spam { widget_key: None }));
    let hidden = r#"{"website":"http://spam.example","website":""}"#;
    assert!(matches!(TicketRequest::parse(hidden.as_bytes()), Ok(Submission::Spam { .. })));
}

#[test]
fn malformed_bodies_are_specific_errors() {
    let full = serde_json::to_string(&valid()).unwrap();
    let truncated = &full[..full.len() / 2];
    assert!(matches!(TicketRequest::parse(truncated.as_bytes()), Err(RequestError::Malformed(m)) if m.contains("EOF")));
    assert!(matches!(TicketRequest::parse(b""), Err(RequestError::Malformed(_))));
    assert!(matches!(TicketRequest::parse(b"name=Ann&email=a@b.co"), Err(RequestError::Malformed(_))));
    assert!(matches!(TicketRequest::parse(format!("{full}{full}").as_bytes()), Err(RequestError::Malformed(_))));
    assert_eq!(TicketRequest::parse(b"[1,2]"), Err(RequestError::NotAnObject));
    assert_eq!(TicketRequest::parse(b"null"), Err(RequestError::NotAnObject));
    let mut bad_utf8 = full.clone().into_bytes();
    bad_utf8[12] = 0xff;
    assert_eq!(TicketRequest::parse(&bad_utf8), Err(RequestError::NotUtf8));
    assert_eq!(TicketRequest::parse(b"{\"name\":\"\xc3\x28\"}"), Err(RequestError::NotUtf8));
    // A lone surrogate escape is valid UTF-8 text but not a valid string.
    assert!(matches!(with_raw_message(r#""\ud800 is lonely""#), Err(RequestError::Malformed(_))));
    for e in [RequestError::NotUtf8, RequestError::NotAnObject, RequestError::Malformed("x".into())] {
        assert_eq!(e.http_status(), 400);
    }
}

fn with_raw_message(raw_json_string: &str) -> Result<Submission, RequestError> {
    let mut m = valid();
    m.remove("message");
    let mut text = serde_json::to_string(&m).unwrap();
    text.pop();
    text.push_str(&format!(r#","message":{raw_json_string}}}"#));
    TicketRequest::parse(text.as_bytes())
}

#[test]
fn json_escapes_are_decoded_before_checking() {
    let t = ticket(with_raw_message(r#""Caf\u00e9 \ud83d\ude00 line\nbreak""#));
    assert_eq!(t.message, "Café 😀 line\nbreak");
    assert!(matches!(with_raw_message(r#""escape \u0007 bell ok?""#), Err(RequestError::Invalid(_))));
}

#[test]
fn large_bodies_are_refused_or_handled() {
    let huge = vec![b' '; MAX_REQUEST_BYTES + 1];
    assert_eq!(TicketRequest::parse(&huge), Err(RequestError::TooLarge { size: MAX_REQUEST_BYTES + 1 }));
    assert_eq!(RequestError::TooLarge { size: 1 }.http_status(), 413);
    // 5000 characters written as escaped surrogate pairs still fit.
    let escaped = "\\ud83d\\ude00".repeat(5000);
    let body = with_raw_message(&format!("\"{escaped}\""));
    assert_eq!(ticket(body).message.chars().count(), 5000);
    // Deep nesting inside a member is a parse error, not a stack overflow.
    let deep = format!(r#"{{"name": {}}}"#, "[".repeat(5000));
    assert!(matches!(TicketRequest::parse(deep.as_bytes()), Err(RequestError::Malformed(_))));
}

proptest::proptest! {
    #[test]
    fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
        let _ = TicketRequest::parse(&bytes);
    }

    #[test]
    fn never_panics_and_keeps_limits_on_arbitrary_members(
        name in "\\PC{0,110}", email in "\\PC{0,30}", phone in "[+0-9 ()a-z-]{0,20}",
        subject in "\\PC{0,210}", category in "[a-z_]{0,16}", message in "(\\PC|\r|\n|\t){0,40}",
    ) {
        let body = json!({
            "name": name, "email": email, "phone": phone, "subject": subject,
            "category": category, "message": message, "widget_key": "k",
        });
        if let Ok(Submission::Ticket(t)) = TicketRequest::parse(body.to_string().as_bytes()) {
            proptest::prop_assert!((1..=NAME_MAX_CHARS).contains(&t.name.chars().count()));
            proptest::prop_assert!((1..=SUBJECT_MAX_CHARS).contains(&t.subject.chars().count()));
            proptest::prop_assert!(t.message.chars().count() >= MESSAGE_MIN_CHARS);
            proptest::prop_assert!(!t.message.contains('\r'));
            proptest::prop_assert!(!t.name.chars().any(char::is_control));
        }
    }
}

#[test]
fn errors_carry_status_and_messages() {
    let err = without("name").unwrap_err();
    assert_eq!(err.http_status(), 422);
    assert_eq!(err.field_errors(), [FieldError { field: "name".into(), message: "Please enter your name.".into() }]);
    assert_eq!(
        serde_json::to_value(err.field_errors()).unwrap(),
        json!([{"field": "name", "message": "Please enter your name."}])
    );
    assert!(err.to_string().contains("name: Please enter your name."));
    assert!(RequestError::NotAnObject.field_errors().is_empty());
}
