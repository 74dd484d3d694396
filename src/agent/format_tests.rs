use super::*;

fn parts(paragraphs: &[&str]) -> ReplyParts {
    ReplyParts {
        first_name: Some("Jo".into()),
        first_reply: true,
        paragraphs: paragraphs.iter().map(|p| p.to_string()).collect(),
        ticket_ref: Some("TKT-7".into()),
        ..Default::default()
    }
}

fn long_paragraphs(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("Paragraph {i} explains **Settings > Billing** in some detail. {}", "word ".repeat(40)))
        .collect()
}

#[test]
fn email_has_greeting_ticket_reference_and_signature() {
    let c = AgentConfig::default();
    let text = format_for_channel(Channel::Email, &parts(&["Go to **Settings > Billing**."]), &c);
    assert!(text.starts_with("Dear Jo,"), "{text}");
    assert!(text.contains("TKT-7"));
    assert!(text.ends_with(&c.email_signature()));
    assert_eq!(check_format(Channel::Email, &text, &c, Some("TKT-7")), vec![]);
}

#[test]
fn long_answers_are_cut_to_each_channels_limit() {
    let c = AgentConfig::default();
    let mut p = parts(&[]);
    p.paragraphs = long_paragraphs(30);
    for channel in Channel::ALL {
        let text = format_for_channel(channel, &p, &c);
        assert_eq!(check_format(channel, &text, &c, Some("TKT-7")), vec![], "{channel}: {text}");
    }
    let email = format_for_channel(Channel::Email, &p, &c);
    assert!(email.split_whitespace().count() <= EMAIL_MAX_WORDS);
    let wa = format_for_channel(Channel::Whatsapp, &p, &c);
    assert!(wa.chars().count() <= WHATSAPP_MAX_CHARS);
}

#[test]
fn whatsapp_uses_single_asterisks_plain_urls_and_one_emoji() {
    let c = AgentConfig::default();
    let p = parts(&["## Steps\nOpen **Settings** 🎉🎉", "See [the guide](https://help.tallyloom.com/x)."]);
    let text = format_for_channel(Channel::Whatsapp, &p, &c);
    assert!(text.starts_with("Hi Jo! I'm Robin, Tallyloom's AI assistant."), "{text}");
    assert!(text.contains("*Settings*") && !text.contains("**"));
    assert!(text.contains("the guide: https://help.tallyloom.com/x"));
    assert_eq!(text.chars().filter(|ch| is_emoji(*ch)).count(), 1);
    assert_eq!(check_format(Channel::Whatsapp, &text, &c, None), vec![]);
}

#[test]
fn whatsapp_greets_only_in_the_first_reply() {
    let c = AgentConfig::default();
    let mut p = parts(&["Answer."]);
    p.first_reply = false;
    assert_eq!(format_for_channel(Channel::Whatsapp, &p, &c), "Answer.");
}

#[test]
fn slack_uses_mrkdwn_and_never_broadcasts() {
    let c = AgentConfig::default();
    let p = parts(&["- **Bold** bullet @channel", "[docs](https://x.test)"]);
    let text = format_for_channel(Channel::Slack, &p, &c);
    assert!(text.contains("• *Bold* bullet channel"), "{text}");
    assert!(text.contains("<https://x.test|docs>"));
    assert_eq!(check_format(Channel::Slack, &text, &c, None), vec![]);
}

#[test]
fn webform_signs_off_and_emails_drop_emoji() {
    let c = AgentConfig::default();
    let text = format_for_channel(Channel::Webform, &parts(&["Done 🎉"]), &c);
    assert!(text.starts_with("Hi Jo,") && text.ends_with(&c.webform_signoff()), "{text}");
    assert_eq!(check_format(Channel::Webform, &text, &c, None), vec![]);
}

#[test]
fn check_format_catches_what_the_formatter_never_produces() {
    let c = AgentConfig::default();
    let bad = check_format(Channel::Email, "Hey!\n**x** 😀", &c, Some("TKT-1"));
    assert!(bad.contains(&FormatViolation::MissingGreeting));
    assert!(bad.contains(&FormatViolation::MissingSignature));
    assert!(bad.contains(&FormatViolation::MissingTicketReference));
    assert!(bad.contains(&FormatViolation::Emoji));
    let wa = check_format(Channel::Whatsapp, &format!("**a** {}", "x".repeat(1700)), &c, None);
    assert!(wa.contains(&FormatViolation::MarkdownBold));
    assert!(matches!(wa[0], FormatViolation::TooLong { .. }));
    assert!(check_format(Channel::Slack, "# Title\n@here", &c, None).contains(&FormatViolation::BroadcastMention));
}

#[test]
fn tables_become_list_items_on_every_channel() {
    let c = AgentConfig::default();
    let p =
        parts(&["Limits by plan:\n| Plan | Requests per minute |\n|---|---|\n| Pro | 300 |\n| Enterprise | 1,000 |"]);
    for channel in Channel::ALL {
        let text = format_for_channel(channel, &p, &c);
        assert!(text.contains("Pro — Requests per minute: 300"), "{channel}: {text}");
        assert!(text.contains("Enterprise — Requests per minute: 1,000"), "{text}");
        assert_eq!(check_format(channel, &text, &c, Some("TKT-7")), vec![], "{channel}: {text}");
    }
}
