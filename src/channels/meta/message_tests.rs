//! Tests of reading one Cloud API message: every message type's body and
//! metadata, the profile name, malformed messages.

use super::*;
use crate::channels::meta::fixtures::with_message;
use crate::channels::meta::webhook::parse_webhook;

fn one(message: &str) -> MetaInbound {
    let mut batch = parse_webhook(with_message(message).as_bytes()).unwrap();
    assert!(batch.skipped.is_empty(), "{:?}", batch.skipped);
    assert_eq!(batch.messages.len(), 1);
    batch.messages.remove(0)
}

fn msg(kind: &str, object: &str) -> MetaInbound {
    one(&format!(
        r#"{{"from":"16505551234","id":"wamid.T","timestamp":"1749416383","type":"{kind}","{kind}":{object}}}"#
    ))
}

#[test]
fn media_without_caption_is_described() {
    let cases = [
        ("image", r#"{"mime_type":"image/jpeg","sha256":"h","id":"1"}"#, "[image]"),
        ("audio", r#"{"mime_type":"audio/ogg; codecs=opus","sha256":"h","id":"2","voice":true}"#, "[voice message]"),
        ("audio", r#"{"mime_type":"audio/mpeg","id":"3","voice":false}"#, "[audio]"),
        ("video", r#"{"mime_type":"video/mp4","id":"4"}"#, "[video]"),
        (
            "document",
            r#"{"filename":"invoice-042.pdf","mime_type":"application/pdf","id":"5"}"#,
            "[document: invoice-042.pdf]",
        ),
        ("document", r#"{"mime_type":"application/pdf","id":"6"}"#, "[document]"),
        ("sticker", r#"{"mime_type":"image/webp","sha256":"h","id":"7","animated":false}"#, "[sticker]"),
        ("video", r#"{"mime_type":"video/mp4","id":"8","caption":"  see this  "}"#, "see this"),
        ("document", r#"{"filename":"a.pdf","id":"9","caption":"my invoice"}"#, "my invoice"),
    ];
    for (kind, object, body) in cases {
        let m = msg(kind, object);
        assert_eq!(m.body(), body, "{kind} {object}");
        let MessageContent::Media(media) = &m.content else { panic!("{m:?}") };
        assert_eq!(media.kind.as_str(), kind);
        let inbound = m.clone().into_inbound_message(TenantId::new(), Utc::now());
        assert_eq!(inbound.metadata["media"][0]["id"], media.id.as_str());
        assert_eq!(inbound.metadata["media"][0]["kind"], kind);
    }
    let voice = msg("audio", r#"{"mime_type":"audio/ogg","id":"2","voice":true}"#);
    let MessageContent::Media(media) = voice.content else { panic!() };
    assert!(media.voice);
    let doc = msg("document", r#"{"filename":"invoice-042.pdf","mime_type":"application/pdf","id":"5"}"#);
    let MessageContent::Media(media) = doc.content else { panic!() };
    assert_eq!(media.filename.as_deref(), Some("invoice-042.pdf"));
    // No media id: still a message, with nothing to fetch.
    let m = msg("image", r#"{"mime_type":"image/jpeg"}"#);
    assert_eq!(m.body(), "[image]");
    assert_eq!(m.clone().into_inbound_message(TenantId::new(), Utc::now()).metadata["media"], json!([]));
}

#[test]
fn locations() {
    let m = msg(
        "location",
        r#"{"address":"1 Hacker Way, Menlo Park, CA 94025","latitude":37.483307,"longitude":-122.148981,"name":"Meta Headquarters","url":"https://meta.com"}"#,
    );
    assert_eq!(m.body(), "[location: Meta Headquarters, 1 Hacker Way, Menlo Park, CA 94025 (37.483307, -122.148981)]");
    let inbound = m.into_inbound_message(TenantId::new(), Utc::now());
    assert_eq!(inbound.metadata["location"]["latitude"], 37.483307);
    assert_eq!(inbound.metadata["location"]["url"], "https://meta.com");
    assert_eq!(msg("location", r#"{"latitude":1.5,"longitude":2}"#).body(), "[location: (1.5, 2)]");
    assert_eq!(msg("location", r#"{"latitude":"1.5","longitude":2}"#).body(), "[location]");
}

#[test]
fn button_and_list_replies_take_their_titles() {
    let m = msg(
        "interactive",
        r#"{"type":"button_reply","button_reply":{"id":"talk_to_human","title":"Talk to a person"}}"#,
    );
    assert_eq!(m.body(), "Talk to a person");
    assert_eq!(
        m.content,
        MessageContent::Reply {
            kind: ReplyKind::ButtonReply,
            id: Some("talk_to_human".into()),
            title: Some("Talk to a person".into()),
            description: None
        }
    );
    let inbound = m.into_inbound_message(TenantId::new(), Utc::now());
    assert_eq!(inbound.metadata["reply"]["kind"], "button_reply");
    assert_eq!(inbound.metadata["reply"]["id"], "talk_to_human");

    let m = msg(
        "interactive",
        r#"{"type":"list_reply","list_reply":{"id":"refund","title":"Refunds","description":"Money back on an order"}}"#,
    );
    assert_eq!(m.body(), "Refunds");
    assert!(matches!(m.content, MessageContent::Reply { kind: ReplyKind::ListReply, description: Some(_), .. }));

    let m = one(
        r#"{"context":{"from":"15550783881","id":"wamid.TEMPLATE1"},"from":"16505551234","id":"wamid.T","timestamp":"1749416383","type":"button","button":{"payload":"STOP_PROMOS","text":"Stop promotions"}}"#,
    );
    assert_eq!(m.body(), "Stop promotions");
    assert!(
        matches!(&m.content, MessageContent::Reply { kind: ReplyKind::Button, id: Some(p), .. } if p == "STOP_PROMOS")
    );
    assert_eq!(m.context.as_ref().and_then(|c| c.message_id.as_deref()), Some("wamid.TEMPLATE1"));
    let inbound = m.into_inbound_message(TenantId::new(), Utc::now());
    assert_eq!(inbound.metadata["context"]["message_id"], "wamid.TEMPLATE1");

    let flow = msg(
        "interactive",
        r#"{"type":"nfm_reply","nfm_reply":{"name":"flow","body":"Sent","response_json":"{\"a\":1}"}}"#,
    );
    assert_eq!(flow.body(), "Sent");
    let flow = msg("interactive", r#"{"type":"nfm_reply","nfm_reply":{"response_json":"{}"}}"#);
    assert_eq!(flow.body(), "[form reply]");
    assert_eq!(msg("interactive", r#"{"type":"button_reply","button_reply":{"id":"x"}}"#).body(), "[button reply]");
    assert_eq!(msg("interactive", r#"{"type":"carousel"}"#).body(), "[interactive message]");
}

#[test]
fn reactions_and_other_types() {
    let r = msg("reaction", r#"{"message_id":"wamid.OUT","emoji":"❤️"}"#);
    assert_eq!(r.body(), "[reaction ❤️]");
    let inbound = r.into_inbound_message(TenantId::new(), Utc::now());
    assert_eq!(inbound.metadata["reaction"]["message_id"], "wamid.OUT");
    assert_eq!(msg("reaction", r#"{"message_id":"wamid.OUT"}"#).body(), "[reaction removed]");

    let u = one(
        r#"{"from":"16505551234","id":"wamid.U","timestamp":"1749416383","type":"unsupported","errors":[{"code":131051,"title":"Message type unknown","message":"Message type unknown","error_data":{"details":"Message type is currently not supported."}}],"unsupported":{"type":"poll"}}"#,
    );
    assert_eq!(u.content, MessageContent::Unsupported);
    assert_eq!(u.body(), "[unsupported message]");
    assert_eq!(u.errors[0].code, Some(131051));
    let inbound = u.into_inbound_message(TenantId::new(), Utc::now());
    assert_eq!(inbound.metadata["errors"][0]["code"], 131051);

    let c = one(
        r#"{"from":"16505551234","id":"wamid.C","timestamp":"1749416383","type":"contacts","contacts":[{"name":{"formatted_name":"Barbara Johnson","first_name":"Barbara"},"phones":[{"phone":"+1 (940) 555-1234","wa_id":"19405551234","type":"HOME"}]},{"name":{"formatted_name":"Mo"}}]}"#,
    );
    assert_eq!(c.body(), "[contact: Barbara Johnson, Mo]");
    let s = msg(
        "system",
        r#"{"body":"User A changed from 16505551234 to 16505559999","wa_id":"16505559999","type":"user_changed_number"}"#,
    );
    assert_eq!(s.body(), "User A changed from 16505551234 to 16505559999");
    assert_eq!(
        msg("order", r#"{"catalog_id":"1","text":"please ship fast","product_items":[]}"#).body(),
        "please ship fast"
    );
    assert_eq!(msg("order", r#"{"catalog_id":"1"}"#).body(), "[order]");
    let no_type = one(r#"{"from":"16505551234","id":"wamid.N","timestamp":"1749416383"}"#);
    assert_eq!((no_type.message_type.as_str(), no_type.body().as_str()), ("unknown", "[unsupported message]"));
    assert_eq!(msg("text", r#"{"nobody":1}"#).body(), "[text message]");
}

#[test]
fn profile_names_match_the_sender() {
    let two = r#"{"object":"whatsapp_business_account","entry":[{"changes":[{"value":{"metadata":{"phone_number_id":"1"},
        "contacts":[{"profile":{"name":"Other"},"wa_id":"447700900418"},{"profile":{"name":"Me"},"wa_id":"16505551234"}],
        "messages":[{"from":"16505551234","id":"wamid.P","timestamp":"1","type":"text","text":{"body":"x"}}]}}]}]}"#;
    let m = parse_webhook(two.as_bytes()).unwrap().messages.remove(0);
    assert_eq!(m.profile_name.as_deref(), Some("Me"));
    assert_eq!(m.business_account_id, None);
    let none = two.replace(r#","wa_id":"16505551234""#, r#","wa_id":"16505550000""#);
    let m = parse_webhook(none.as_bytes()).unwrap().messages.remove(0);
    assert_eq!(m.profile_name, None);
    let inbound = m.into_inbound_message(TenantId::new(), Utc::now());
    assert_eq!(inbound.display_name, None);
    assert_eq!(inbound.metadata["display_phone_number"], Value::Null);
}
