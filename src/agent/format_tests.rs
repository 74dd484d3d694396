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

#[test]
fn long_whatsapp_answers_are_cut_at_a_word_with_the_marker() {
    let c = AgentConfig::default();
    let mut p = parts(&[]);
    p.first_reply = false;
    p.paragraphs = vec![format!("Open Settings 🎉 then {}", "choose the invoice export option ".repeat(20))];
    let text = format_for_channel(Channel::Whatsapp, &p, &c);
    assert!(text.ends_with(WHATSAPP_MORE), "{text}");
    let body = text.strip_suffix(WHATSAPP_MORE).unwrap().trim_end();
    assert!(body.chars().count() <= WHATSAPP_CUT_CHARS, "{}", body.chars().count());
    assert!(body.ends_with("option…") || body.ends_with("export…") || body.ends_with("the…"), "{body}");
    assert!(!body.contains('🎉'), "one emoji per message: {text}");
    assert_eq!(check_format(Channel::Whatsapp, &text, &c, None), vec![]);
    // Short answers are left alone.
    p.paragraphs = vec!["Open *Settings*.".into()];
    assert_eq!(format_for_channel(Channel::Whatsapp, &p, &c), "Open *Settings*.");
    // A long unbroken word is cut inside it rather than dropped.
    p.paragraphs = vec!["x".repeat(400)];
    let text = format_for_channel(Channel::Whatsapp, &p, &c);
    assert!(text.starts_with(&"x".repeat(290)) && text.ends_with(WHATSAPP_MORE), "{text}");
}

#[test]
fn webform_replies_link_the_help_portal() {
    let c = AgentConfig::default();
    let text = format_for_channel(Channel::Webform, &parts(&["Answer."]), &c);
    assert!(text.contains("https://help.tallyloom.com"), "{text}");
    assert_eq!(check_format(Channel::Webform, &text, &c, Some("TKT-7")), vec![]);
    let without = text.replace(&c.help_portal_line(), "");
    assert!(check_format(Channel::Webform, &without, &c, None).contains(&FormatViolation::MissingHelpLink));
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// Text with words, markdown, emoji, multi-byte letters and newlines.
    fn text() -> impl Strategy<Value = String> {
        let word = prop_oneof![
            "[a-zA-Z]{1,12}",
            "[àéîõüßøñçłžж日本語한국어]{1,6}",
            Just("**Settings > Billing**".to_string()),
            Just("[guide](https://help.tallyloom.com/x)".to_string()),
            Just("😀".to_string()),
            Just("👍🏽".to_string()),
            Just("\n- item".to_string()),
            Just("\n1. step".to_string()),
            Just("| a | b |".to_string()),
            "[a-z]{30,80}",
        ];
        proptest::collection::vec(word, 0..400).prop_map(|w| w.join(" "))
    }

    fn reply_parts() -> impl Strategy<Value = ReplyParts> {
        (
            proptest::option::of("[A-Za-zé]{1,20}"),
            any::<bool>(),
            proptest::option::of(text()),
            proptest::collection::vec(text(), 0..6),
            any::<bool>(),
        )
            .prop_map(|(first_name, first_reply, empathy, paragraphs, holding)| ReplyParts {
                first_name,
                first_reply,
                empathy: empathy.map(|e| e.chars().take(200).collect()),
                paragraphs,
                subject: None,
                ticket_ref: Some("TKT-42".into()),
                holding,
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn every_rendering_is_within_its_channels_limits(p in reply_parts()) {
            let c = AgentConfig::default();
            for channel in Channel::ALL {
                let text = format_for_channel(channel, &p, &c);
                // Valid UTF-8 that was never cut inside a character: no
                // replacement characters appear.
                prop_assert!(std::str::from_utf8(text.as_bytes()).is_ok());
                prop_assert!(!text.contains(char::REPLACEMENT_CHARACTER));
                let n = text.chars().count();
                match channel {
                    Channel::Email => prop_assert!(text.split_whitespace().count() <= EMAIL_MAX_WORDS),
                    Channel::Webform => prop_assert!(text.split_whitespace().count() <= WEBFORM_MAX_WORDS),
                    Channel::Slack => prop_assert!(n <= SLACK_MAX_CHARS),
                    Channel::Whatsapp => {
                        prop_assert!(n <= WHATSAPP_MAX_CHARS);
                        if n > WHATSAPP_PREFERRED_CHARS {
                            prop_assert!(text.ends_with(WHATSAPP_MORE), "{}", text);
                            let body = text.strip_suffix(WHATSAPP_MORE).unwrap_or_default().trim_end();
                            prop_assert!(body.chars().count() <= WHATSAPP_CUT_CHARS);
                        }
                    }
                }
                let too_long = check_format(channel, &text, &c, Some("TKT-42"))
                    .into_iter()
                    .any(|v| matches!(v, FormatViolation::TooLong { .. }));
                prop_assert!(!too_long, "{}: {}", channel, text);
            }
        }
    }
}

#[test]
fn human_replies_keep_their_words_in_the_channel_markup() {
    let text = "Hi Ana,\n\nI have **fixed** your invoice: [billing](https://x.io/b).\n\n- one\n- two";
    let wa = format_human_reply(Channel::Whatsapp, text).unwrap();
    assert!(wa.contains("*fixed*") && !wa.contains("**"), "{wa}");
    assert!(wa.contains("billing: https://x.io/b"), "{wa}");
    let slack = format_human_reply(Channel::Slack, &format!("{text} @here")).unwrap();
    assert!(slack.contains("<https://x.io/b|billing>") && slack.contains("• one"), "{slack}");
    assert!(!slack.contains("@here"), "{slack}");
    let email = format_human_reply(Channel::Email, "## Update\nAll done.").unwrap();
    assert_eq!(email, "Update\nAll done.");
}

#[test]
fn human_replies_over_the_limit_or_empty_are_refused_not_cut() {
    assert_eq!(format_human_reply(Channel::Slack, "  \n "), Err(HumanReplyError::Empty));
    let long = "a".repeat(WHATSAPP_MAX_CHARS + 1);
    assert!(matches!(
        format_human_reply(Channel::Whatsapp, &long),
        Err(HumanReplyError::TooLong { limit: WHATSAPP_MAX_CHARS, .. })
    ));
    let exact = "a".repeat(WHATSAPP_MAX_CHARS);
    assert_eq!(format_human_reply(Channel::Whatsapp, &exact).unwrap(), exact);
    let many = vec!["word"; EMAIL_MAX_WORDS + 1].join(" ");
    assert!(format_human_reply(Channel::Email, &many).is_err());
}
