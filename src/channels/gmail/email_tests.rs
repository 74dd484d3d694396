//! End-to-end samples for the inbound email path: raw RFC 5322 messages as
//! Gmail returns them (plain, HTML-only, alternative, nested mixed with an
//! attachment, quoted-printable soft breaks, base64, encoded-word headers,
//! Gmail and Outlook quotes, signatures with phone numbers, auto-replies),
//! through `EmailMessage` into `InboundMessage`, and back out as a reply.

use super::compose::{BodyEncoding, ReplyContext, compose_reply};
use super::email::{Automation, EmailMessage, IgnoreReason};
use super::fetch::FetchedMessage;
use super::mime::{MimeError, NamedAddress};
use crate::domain::{Channel, EmailAddress, Identifier, MAX_BODY_CHARS, TenantId};
use chrono::{TimeZone, Utc};

const MAILBOX: &str = "support@acme.com";

fn parse(raw: &str) -> Result<EmailMessage, MimeError> {
    let fetched = FetchedMessage {
        id: "18f4a2b3c4d5e6f7".into(),
        thread_id: "18f4a2b3c4d5e6f0".into(),
        label_ids: vec!["INBOX".into(), "UNREAD".into()],
        history_id: Some(4242),
        internal_date: None,
        raw: raw.replace('\n', "\r\n").into_bytes(),
    };
    EmailMessage::parse(fetched, &EmailAddress::parse(MAILBOX).unwrap())
}

const GMAIL_REPLY: &str = "\
Return-Path: <marisol@vientoapps.io>
MIME-Version: 1.0
Date: Mon, 6 May 2024 11:02:17 +0200
References: <first@acme.com> <CA+abc=def@mail.gmail.com>
In-Reply-To: <CA+abc=def@mail.gmail.com>
Message-ID: <CA+xyz123@mail.gmail.com>
Subject: Re: Invoice for May
From: Marisol Ortega <Marisol@VientoApps.io>
To: Acme Support <support@acme.com>
Content-Type: multipart/alternative; boundary=\"000000000000abc\"

--000000000000abc
Content-Type: text/plain; charset=\"UTF-8\"
Content-Transfer-Encoding: quoted-printable

Hi, the invoice still shows the old amount of =E2=82=AC49. Could you have a=
 look?

Thanks,
Marisol

--=20
Marisol Ortega | Viento Apps
+34 612 34 56 78

On Mon, 6 May 2024 at 10:12, Acme Support <support@acme.com> wrote:
> We have corrected your invoice.
>
--000000000000abc
Content-Type: text/html; charset=\"UTF-8\"
Content-Transfer-Encoding: quoted-printable

<div dir=3D\"ltr\">Hi, the invoice still shows the old amount.</div>
--000000000000abc--
";

#[test]
fn gmail_reply_with_signature_and_quote() {
    let m = parse(GMAIL_REPLY).unwrap();
    assert_eq!(m.from.address.as_str(), "marisol@vientoapps.io");
    assert_eq!(m.from.name.as_deref(), Some("Marisol Ortega"));
    assert_eq!(m.subject.as_deref(), Some("Re: Invoice for May"));
    assert_eq!(m.message_id.as_deref(), Some("<CA+xyz123@mail.gmail.com>"));
    assert_eq!(m.in_reply_to.as_deref(), Some("<CA+abc=def@mail.gmail.com>"));
    assert_eq!(m.references, ["<first@acme.com>", "<CA+abc=def@mail.gmail.com>"]);
    assert_eq!(m.body, "Hi, the invoice still shows the old amount of €49. Could you have a look?\n\nThanks,\nMarisol");
    assert!(m.quote_stripped && !m.from_html);
    assert_eq!(m.signature.as_deref(), Some("Marisol Ortega | Viento Apps\n+34 612 34 56 78"));
    assert_eq!(m.signature_phone.as_ref().map(|p| p.as_str()), Some("+34612345678"));
    assert_eq!(m.date.unwrap().to_rfc3339(), "2024-05-06T11:02:17+02:00");
    assert!(m.ignore_reason().is_none());

    let tenant = TenantId::new();
    let at = Utc.with_ymd_and_hms(2024, 5, 6, 9, 2, 20).unwrap();
    let inbound = m.into_inbound_message(tenant, at);
    assert_eq!(inbound.channel, Channel::Email);
    assert_eq!(inbound.external_id, "18f4a2b3c4d5e6f7");
    assert_eq!(inbound.sender, Identifier::Email(EmailAddress::parse("marisol@vientoapps.io").unwrap()));
    assert_eq!(inbound.identifiers.len(), 1);
    assert_eq!(inbound.identifiers[0].to_string(), "phone:+34612345678");
    assert_eq!(inbound.display_name.as_deref(), Some("Marisol Ortega"));
    assert_eq!(inbound.received_at, at);
    let md = &inbound.metadata;
    assert_eq!(md["thread_id"], "18f4a2b3c4d5e6f0");
    assert_eq!(md["message_id_header"], "<CA+xyz123@mail.gmail.com>");
    assert_eq!(md["mailbox"], MAILBOX);
    assert_eq!(md["quote_stripped"], true);
    assert_eq!(md["signature_stripped"], true);
    assert!(md.get("body_truncated").is_none());

    // The reply threads onto it.
    let ctx = ReplyContext::from_inbound(&inbound).unwrap();
    assert_eq!(ctx.thread_id.as_deref(), Some("18f4a2b3c4d5e6f0"));
    let from = NamedAddress { name: Some("Acme Support".into()), address: EmailAddress::parse(MAILBOX).unwrap() };
    let reply =
        compose_reply(&from, &ctx, "Fixed now.", "r1", uuid::Uuid::nil(), at, BodyEncoding::QuotedPrintable).unwrap();
    assert!(reply.raw.contains("\r\nTo: Marisol Ortega <marisol@vientoapps.io>\r\n"));
    assert!(reply.raw.contains("\r\nSubject: Re: Invoice for May\r\n"));
    assert!(reply.raw.contains("\r\nIn-Reply-To: <CA+xyz123@mail.gmail.com>\r\n"));
    assert!(
        reply.raw.contains(
            "\r\nReferences: <first@acme.com> <CA+abc=def@mail.gmail.com>\r\n <CA+xyz123@mail.gmail.com>\r\n"
        ),
        "{}",
        reply.raw
    );
}

#[test]
fn html_only_message() {
    let raw = "From: \"Doe, Jane\" <jane@example.com>\nSubject: Help\nContent-Type: text/html; charset=iso-8859-1\n\
        Content-Transfer-Encoding: quoted-printable\n\n<html><head><style>.x{}</style></head><body>\
        <p>Caf=E9 &amp; login broken.<br>See <a href=3D\"https://x.io/s\">screenshot</a></p><script>x()</script>\
        </body></html>\n";
    let m = parse(raw).unwrap();
    assert_eq!(m.body, "Café & login broken.\nSee screenshot (https://x.io/s)");
    assert!(m.from_html);
    assert_eq!(m.from.name.as_deref(), Some("Doe, Jane"));
}

#[test]
fn nested_mixed_with_attachment_and_base64() {
    let raw = "From: jane@example.com\nSubject: =?UTF-8?B?UmVjaG51bmcgZsO8cg==?= =?ISO-8859-1?Q?_M=E4rz?=\n\
        Content-Type: multipart/mixed; boundary=\"outer\"\n\nThis is a multi-part message.\n--outer\n\
        Content-Type: multipart/alternative; boundary=\"inner\"\n\n--inner\nContent-Type: text/plain; charset=ISO-8859-1\n\
        Content-Transfer-Encoding: base64\n\nSWNoIG32Y2h0ZSBkaWUgUmVjaG51bmcgZvxyIE3kcnogYmV6YWhsZW4u\n--inner\nContent-Type: text/html\n\n<b>html</b>\n\
        --inner--\n--outer\nContent-Type: application/pdf; name=\"invoice.pdf\"\n\
        Content-Disposition: attachment; filename=\"invoice.pdf\"\nContent-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n--outer--\n";
    let m = parse(raw).unwrap();
    assert_eq!(m.subject.as_deref(), Some("Rechnung für März"));
    assert_eq!(m.body, "Ich möchte die Rechnung für März bezahlen.");
    assert!(!m.from_html);
    assert_eq!(m.attachments.len(), 1);
    assert_eq!(m.attachments[0].filename.as_deref(), Some("invoice.pdf"));
    assert_eq!(m.attachments[0].content_type, "application/pdf");
    assert_eq!(m.attachments[0].size, 9);
    let inbound = m.into_inbound_message(TenantId::new(), Utc::now());
    assert_eq!(inbound.metadata["attachments"][0]["filename"], "invoice.pdf");
}

#[test]
fn outlook_html_reply() {
    let raw = "From: =?iso-8859-1?Q?Ren=E9e_Dupr=E9?= <renee@contoso.fr>\nSubject: RE: Access\n\
        Content-Type: text/html; charset=\"us-ascii\"\n\n<html><body><div>It still fails.</div>\
        <div>Ren&eacute;e</div><hr style=\"display:inline-block\"><div id=\"divRplyFwdMsg\">\
        <b>From:</b> Acme Support &lt;support@acme.com&gt;<br><b>Sent:</b> Monday, May 6, 2024 10:12 AM<br>\
        <b>To:</b> Ren&eacute;e<br><b>Subject:</b> Access</div><div>Please reset your password.</div></body></html>\n";
    let m = parse(raw).unwrap();
    assert_eq!(m.from.name.as_deref(), Some("Renée Dupré"));
    assert_eq!(m.body, "It still fails.\nRenée");
    assert!(m.quote_stripped);
}

#[test]
fn sent_from_my_iphone_plain() {
    let raw = "From: bob@example.com\nSubject: =?utf-8?q?Quick_question_=F0=9F=99=82?=\n\nCan I upgrade mid-month?\n\nSent from my iPhone\n";
    let m = parse(raw).unwrap();
    assert_eq!(m.subject.as_deref(), Some("Quick question 🙂"));
    assert_eq!(m.body, "Can I upgrade mid-month?");
    assert_eq!(m.signature.as_deref(), Some("Sent from my iPhone"));
    assert!(m.signature_phone.is_none());
}

#[test]
fn a_line_break_in_an_encoded_subject_becomes_a_space() {
    // "Export\r\n invoices\n" as a B-encoded word.
    let raw = "From: bob@example.com\nSubject: =?utf-8?b?RXhwb3J0DQogaW52b2ljZXMK?=\n\nHow?\n";
    let m = parse(raw).unwrap();
    assert_eq!(m.subject.as_deref(), Some("Export invoices"));
}

#[test]
fn automated_and_own_messages_are_flagged() {
    let ooo = "From: jane@example.com\nAuto-Submitted: auto-replied (vacation)\nSubject: Out of office\n\nAway.\n";
    let m = parse(ooo).unwrap();
    assert!(m.is_automated());
    assert_eq!(
        m.ignore_reason(),
        Some(IgnoreReason::Automated(Automation::AutoSubmitted("auto-replied (vacation)".into())))
    );
    let bulk = "From: news@example.com\nPrecedence: Bulk\n\nNews\n";
    assert_eq!(parse(bulk).unwrap().automation, Some(Automation::Precedence("bulk".into())));
    let junk = "From: x@example.com\nPrecedence: junk\n\nx\n";
    assert!(parse(junk).unwrap().is_automated());
    let bounce = "From: MAILER-DAEMON@example.com\nReturn-Path: <>\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\n\n--b\n\nfailed\n--b--\n";
    assert_eq!(parse(bounce).unwrap().automation, Some(Automation::Bounce));
    let human = "From: jane@example.com\nAuto-Submitted: no\nPrecedence: first-class\n\nHello\n";
    assert!(!parse(human).unwrap().is_automated());
    let own = "From: Acme Support <SUPPORT@acme.com>\n\nOur own reply\n";
    let m = parse(own).unwrap();
    assert!(m.is_from_mailbox());
    assert_eq!(m.ignore_reason(), Some(IgnoreReason::FromMailbox));
}

#[test]
fn long_bodies_are_cut_and_recorded() {
    let raw = format!("From: jane@example.com\n\n{}\n", "é".repeat(MAX_BODY_CHARS + 5));
    let inbound = parse(&raw).unwrap().into_inbound_message(TenantId::new(), Utc::now());
    assert_eq!(inbound.body.chars().count(), MAX_BODY_CHARS);
    assert_eq!(inbound.metadata["body_truncated"]["original_chars"], MAX_BODY_CHARS + 5);
}

#[test]
fn large_messages_parse() {
    let attachment = "QUFBQUFBQUFB\n".repeat(300_000);
    let raw = format!(
        "From: jane@example.com\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nsee attached\n\
         --b\nContent-Type: image/png\nContent-Transfer-Encoding: base64\n\n{attachment}--b--\n"
    );
    let m = parse(&raw).unwrap();
    assert_eq!(m.body, "see attached");
    assert_eq!(m.attachments[0].size, 2_700_000);
}

#[test]
fn sender_problems_are_errors() {
    assert_eq!(parse("Subject: x\n\nbody\n"), Err(MimeError::MissingFrom));
    assert!(matches!(parse("From: Jane Doe\n\nbody\n"), Err(MimeError::BadFrom(_))));
    assert_eq!(parse(""), Err(MimeError::Empty));
}

#[test]
fn reply_to_wins_for_the_reply_but_not_the_identity() {
    let raw = "From: Jane <jane@example.com>\nReply-To: tickets@example.com\nSubject: Hi\n\nHello\n";
    let inbound = parse(raw).unwrap().into_inbound_message(TenantId::new(), Utc::now());
    assert_eq!(inbound.sender.value(), "jane@example.com");
    let ctx = ReplyContext::from_inbound(&inbound).unwrap();
    assert_eq!(ctx.to.address.as_str(), "tickets@example.com");
}
