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

/// Markdown a plain-text message must not carry, outside URLs: `**`,
/// `__`, a `[text](url)` link, a line starting with `#`. Returns the first
/// one found.
fn markdown_left(text: &str) -> Option<String> {
    let outside_urls: String = text
        .split_whitespace()
        .map(|w| match w.find("http://").or_else(|| w.find("https://")) {
            Some(i) => &w[..i],
            None => w,
        })
        .collect::<Vec<_>>()
        .join(" ");
    for bad in ["**", "__", "]("] {
        if outside_urls.contains(bad) {
            return Some(bad.to_string());
        }
    }
    text.lines().find(|l| l.trim_start().starts_with('#')).map(str::to_string)
}

/// Markdown the AI and humans write, and what email and the web form show.
const PLAIN_CASES: [(&str, &str); 12] = [
    ("Go to **Settings > Billing** and click __Export__.", "Go to Settings > Billing and click Export."),
    ("It's *really* _that_ simple", "It's really that simple"),
    ("## Exporting invoices\nOpen **Reports**.", "Exporting invoices\nOpen Reports."),
    ("# Title", "Title"),
    ("See [the guide](https://help.tallyloom.com/x).", "See the guide (https://help.tallyloom.com/x)."),
    ("Set `api_key` in `Settings > API`.", "Set api_key in Settings > API."),
    ("* one\n* two **bold**", "- one\n- two bold"),
    ("1. Open **Settings**\n2. Click *Save*", "1. Open Settings\n2. Click Save"),
    ("***Important:*** read this", "Important: read this"),
    ("**Unclosed bold and [half a link](https://x.io", "Unclosed bold and [half a link] (https://x.io"),
    ("Keep snake_case and 5 * 3 and https://x.io/a__b", "Keep snake_case and 5 * 3 and https://x.io/a__b"),
    ("> **Note**\n---\nDone", "Note\nDone"),
];

#[test]
fn email_and_webform_replies_carry_no_markdown() {
    let c = AgentConfig::default();
    for (markdown, plain) in PLAIN_CASES {
        for channel in [Channel::Email, Channel::Webform] {
            let text = format_for_channel(channel, &parts(&[markdown]), &c);
            assert!(text.contains(plain), "{channel}: {markdown:?} → {text}");
            assert_eq!(markdown_left(&text), None, "{channel}: {text}");
            assert_eq!(check_format(channel, &text, &c, Some("TKT-7")), vec![], "{channel}: {text}");
            let human = format_human_reply(channel, markdown).unwrap();
            assert_eq!(human, plain, "{channel}: a human's {markdown:?}");
        }
    }
    // The empathy line goes through the same cleaning.
    let mut p = parts(&["Answer."]);
    p.empathy = Some("I'm **so** sorry".into());
    assert!(format_for_channel(Channel::Email, &p, &c).contains("I'm so sorry"));
}

#[test]
fn chat_channels_turn_double_asterisks_into_their_bold() {
    let c = AgentConfig::default();
    let p = parts(&["Open **Settings** then ***Billing***."]);
    let wa = format_for_channel(Channel::Whatsapp, &p, &c);
    assert!(wa.contains("Open *Settings* then *Billing*."), "{wa}");
    let slack = format_for_channel(Channel::Slack, &p, &c);
    assert!(slack.contains("Open *Settings* then *Billing*."), "{slack}");
    for channel in [Channel::Whatsapp, Channel::Slack] {
        let human = format_human_reply(channel, "**Done** and ***done***").unwrap();
        assert_eq!(human, "*Done* and *done*", "{channel}");
    }
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
    assert!(text.starts_with(&"x".repeat(270)) && text.ends_with(WHATSAPP_MORE), "{text}");
    assert!(text.chars().count() <= WHATSAPP_PREFERRED_CHARS);
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

#[test]
fn whatsapp_marker_messages_stay_within_300_characters() {
    assert_eq!(WHATSAPP_MORE.chars().count(), 21);
    assert_eq!(WHATSAPP_CUT_CHARS + 2 + WHATSAPP_MORE.chars().count(), WHATSAPP_PREFERRED_CHARS);
    let c = AgentConfig::default();
    let mut p = parts(&[]);
    p.paragraphs = long_paragraphs(3);
    let text = format_for_channel(Channel::Whatsapp, &p, &c);
    assert!(text.ends_with(&format!("\n\n{WHATSAPP_MORE}")), "{text}");
    assert!(text.chars().count() <= WHATSAPP_PREFERRED_CHARS, "{} chars: {text}", text.chars().count());
}

#[test]
fn whatsapp_openings_shrink_before_the_answer_is_cut() {
    let c = AgentConfig::default();
    let mut p = parts(&[]);
    p.empathy = Some("I'm sorry this got in the way of your work — here's how to sort it out.".into());
    // 200 characters of answer: with the full opening it would be 320.
    let answer = format!("Open **Settings > Security** and turn on two-factor authentication. {}", "x".repeat(130));
    p.paragraphs = vec![answer.clone()];
    let text = format_for_channel(Channel::Whatsapp, &p, &c);
    assert!(!text.ends_with(WHATSAPP_MORE), "the whole answer fits once the opening is shorter: {text}");
    assert!(text.contains(&whatsapp_markup(&answer)), "{text}");
    assert!(
        text.starts_with("Hi Jo! I'm Robin, Tallyloom's AI assistant. I'm sorry this got in the way of your work.\n\n"),
        "{text}"
    );
    // Longer: the empathy goes, then the introduction, before the facts.
    p.paragraphs = vec![format!("Open Settings. {}", "y".repeat(200))];
    let text = format_for_channel(Channel::Whatsapp, &p, &c);
    assert!(text.starts_with("Hi Jo! I'm Robin, Tallyloom's AI assistant.\n\nOpen Settings."), "{text}");
    p.paragraphs = vec![format!("Open Settings. {}", "y".repeat(245))];
    let text = format_for_channel(Channel::Whatsapp, &p, &c);
    assert!(text.starts_with("Hi Jo!\n\nOpen Settings."), "{text}");
    p.paragraphs = vec![format!("Open Settings. {}", "y".repeat(300))];
    let text = format_for_channel(Channel::Whatsapp, &p, &c);
    assert!(
        text.starts_with("Hi Jo! I'm Robin"),
        "a cut answer keeps the opening its key sentence leaves room for: {text}"
    );
    assert!(text.ends_with(WHATSAPP_MORE) && text.chars().count() <= WHATSAPP_PREFERRED_CHARS, "{text}");
    assert!(check_format(Channel::Whatsapp, &text, &c, None).is_empty(), "{text}");
}

#[test]
fn whatsapp_cuts_keep_the_key_sentence_first_in_line() {
    let c = AgentConfig::default();
    let filler = "Entries you make offline are stored on the device until the app can reach our servers again.";
    let key = "They sync automatically when you're back online, so nothing is lost.";
    let mut p = parts(&[]);
    p.paragraphs = vec![format!("{filler} {filler} {filler}"), key.into()];
    p.lead = Some(key.into());
    let text = format_for_channel(Channel::Whatsapp, &p, &c);
    assert!(text.chars().count() <= WHATSAPP_PREFERRED_CHARS, "{text}");
    assert!(text.contains(key), "the key sentence survives the cut: {text}");
    assert!(text.starts_with(&format!("{key}\n\n{filler}")), "it leads, the rest follows: {text}");
    // Without a lead the first sentence is the key one.
    p.lead = None;
    let text = format_for_channel(Channel::Whatsapp, &p, &c);
    assert!(text.starts_with(&format!("Hi Jo! I'm Robin, Tallyloom's AI assistant.\n\n{filler}")), "{text}");
    // A key sentence longer than the room is shortened, from its start.
    let long_key = format!("You can {} right away.", "really ".repeat(60));
    p.paragraphs = vec![filler.into(), long_key.clone()];
    p.lead = Some(long_key.clone());
    let text = format_for_channel(Channel::Whatsapp, &p, &c);
    assert!(text.starts_with("You can really") && keeps_key(&text, &long_key), "{text}");
    assert!(text.chars().count() <= WHATSAPP_PREFERRED_CHARS);
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
                lead: None,
            })
    }

    /// Everything of a reply but its paragraphs: name, first reply,
    /// empathy (markdown and emoji included), holding.
    fn opening_parts() -> impl Strategy<Value = ReplyParts> {
        let empathy = prop_oneof![
            Just("I'm sorry this got in the way of your work — here's how to sort it out.".to_string()),
            Just("I'm **really** sorry 😀. Let's fix it".to_string()),
            "[a-zA-Z😀 ]{0,120}",
        ];
        (proptest::option::of("[A-Za-zé]{1,20}"), any::<bool>(), proptest::option::of(empathy), any::<bool>()).prop_map(
            |(first_name, first_reply, empathy, holding)| ReplyParts {
                first_name,
                first_reply,
                empathy,
                ticket_ref: Some("TKT-42".into()),
                holding,
                ..Default::default()
            },
        )
    }

    /// Text dense with markdown, stray and broken markup included.
    fn markdown() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            "[a-zA-Z]{1,10}",
            Just("**".to_string()),
            Just("__".to_string()),
            Just("*".to_string()),
            Just("_".to_string()),
            Just("`".to_string()),
            Just("~~".to_string()),
            Just("[".to_string()),
            Just("](".to_string()),
            Just(")".to_string()),
            Just("\\".to_string()),
            Just("#".to_string()),
            Just("\n".to_string()),
            Just("\n# ".to_string()),
            Just("\n## ".to_string()),
            Just("\n> ".to_string()),
            Just("\n* ".to_string()),
            Just("\n- ".to_string()),
            Just("\n1. ".to_string()),
            Just("\n---\n".to_string()),
            Just("\n```\n".to_string()),
            Just("**bold**".to_string()),
            Just("[guide](https://help.tallyloom.com/x)".to_string()),
            Just("<https://x.io/a_b>".to_string()),
            Just("![img](https://x.io/i.png)".to_string()),
            Just(" ".to_string()),
            Just("😀".to_string()),
        ];
        proptest::collection::vec(piece, 0..80).prop_map(|w| w.concat())
    }

    /// One answer sentence, with some markdown and the odd emoji.
    fn sentence() -> impl Strategy<Value = String> {
        let word = prop_oneof![
            6 => "[a-zA-Z]{1,10}",
            1 => Just("**Settings > Billing**".to_string()),
            1 => Just("[guide](https://help.tallyloom.com/x)".to_string()),
            1 => Just("😀".to_string()),
            1 => "[àéîõüß日本]{1,5}",
        ];
        proptest::collection::vec(word, 1..60).prop_map(|w| format!("{}.", w.join(" ")))
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

        #[test]
        fn email_and_webform_show_no_markdown(
            p in opening_parts(),
            md in markdown(),
            more in proptest::collection::vec(markdown(), 0..3),
        ) {
            let c = AgentConfig::default();
            let mut p = p;
            p.paragraphs = more;
            p.paragraphs.insert(0, md.clone());
            for channel in [Channel::Email, Channel::Webform] {
                let text = format_for_channel(channel, &p, &c);
                prop_assert_eq!(markdown_left(&text), None, "{}: {}", channel, text);
                let human = format_human_reply(channel, &md).unwrap_or_default();
                prop_assert_eq!(markdown_left(&human), None, "{}: {}", channel, human);
            }
        }

        #[test]
        fn whatsapp_cuts_keep_the_lead_within_300_characters(
            p in opening_parts(),
            sentences in proptest::collection::vec(sentence(), 1..12),
            pick in any::<proptest::sample::Index>(),
        ) {
            let c = AgentConfig::default();
            let mut p = p;
            let lead = sentences[pick.index(sentences.len())].clone();
            p.paragraphs = sentences.chunks(3).map(|s| s.join(" ")).collect();
            p.lead = Some(lead.clone());
            let text = format_for_channel(Channel::Whatsapp, &p, &c);
            prop_assert!(text.chars().count() <= WHATSAPP_PREFERRED_CHARS, "{}", text);
            let key = whatsapp_markup(&lead);
            prop_assert!(keeps_key(&text, &key), "lost {:?}: {}", key, text);
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
