//! Turns the `text` of a Slack message event into plain text for the
//! agent, following "Formatting text for app surfaces"
//! (docs.slack.dev/messaging/formatting-message-text): `&`, `<` and `>`
//! arrive escaped as `&amp;`, `&lt;`, `&gt;` (decoded here, once: `&amp;lt;`
//! is the literal text `&lt;`), and every unescaped `<...>` is a control
//! sequence: `<@U123>` / `<@U123|name>` a user mention, `<#C123|name>` a
//! channel, `<!here>` / `<!channel>` / `<!everyone>` a broadcast,
//! `<!subteam^S123|@team>` a user group, `<!date^...|fallback>` a date,
//! anything else a link `<url>` / `<url|label>`. The bot's own mention is
//! removed (it is how the customer addressed us, not part of the
//! question); other mentions stay readable (`@U123`, `@name`, `#general`).
//! Owns `readable_text`.

/// `text` with the mention of `bot_user_id` removed, the other control
/// sequences rendered readable, entities decoded, and surrounding
/// whitespace trimmed.
pub fn readable_text(text: &str, bot_user_id: Option<&str>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        let Some(close) = rest[open..].find('>').map(|i| open + i) else {
            break;
        };
        push_decoded(&mut out, &rest[..open]);
        let mut inner = &rest[open + 1..close];
        rest = &rest[close + 1..];
        if let Some(i) = inner.rfind('<') {
            // `<` is always escaped in Slack text: a stray one is literal,
            // and the sequence starts at the last one.
            out.push('<');
            push_decoded(&mut out, &inner[..i]);
            inner = &inner[i + 1..];
        }
        if is_bot_mention(inner, bot_user_id) {
            if out.trim().is_empty() {
                // "@bot: ..." or "@bot, ...": the punctuation goes with it.
                rest = rest.strip_prefix([':', ',']).unwrap_or(rest);
            } else if out.ends_with(char::is_whitespace) {
                rest = rest.strip_prefix(' ').unwrap_or(rest);
            }
            continue;
        }
        render_sequence(&mut out, inner);
    }
    push_decoded(&mut out, rest);
    out.trim().to_string()
}

fn is_bot_mention(inner: &str, bot_user_id: Option<&str>) -> bool {
    let Some(bot) = bot_user_id.filter(|b| !b.is_empty()) else {
        return false;
    };
    inner.strip_prefix('@').is_some_and(|m| m.split('|').next() == Some(bot))
}

/// Renders one control sequence (the text between `<` and `>`).
fn render_sequence(out: &mut String, inner: &str) {
    let (target, label) = match inner.split_once('|') {
        Some((t, l)) => (t, Some(l).filter(|l| !l.is_empty())),
        None => (inner, None),
    };
    if let Some(user) = target.strip_prefix('@') {
        match label {
            Some(l) => push_prefixed(out, '@', l),
            None => push_prefixed(out, '@', user),
        }
    } else if let Some(channel) = target.strip_prefix('#') {
        push_prefixed(out, '#', label.unwrap_or(channel));
    } else if let Some(special) = target.strip_prefix('!') {
        render_special(out, special, label);
    } else {
        render_link(out, target, label);
    }
}

/// `<!here>`, `<!channel>`, `<!everyone>`, `<!subteam^S123|@team>`,
/// `<!date^1392734382^{date}|Feb 18th>` and anything Slack adds later.
fn render_special(out: &mut String, special: &str, label: Option<&str>) {
    if let Some(label) = label {
        push_decoded(out, label);
        return;
    }
    let name = special.split('^').next().unwrap_or(special);
    match name {
        "subteam" => push_prefixed(out, '@', special.split('^').nth(1).unwrap_or("group")),
        "date" => push_decoded(out, special.split('^').nth(1).unwrap_or_default()),
        _ => push_prefixed(out, '@', name),
    }
}

/// `<https://x.io>` → `https://x.io`; `<mailto:a@b.co|a@b.co>` → `a@b.co`;
/// `<https://x.io|the docs>` → `the docs (https://x.io)`. A label that just
/// repeats the address (Slack's auto-links) is not repeated.
fn render_link(out: &mut String, target: &str, label: Option<&str>) {
    let shown = target.strip_prefix("mailto:").unwrap_or(target);
    match label {
        None => push_decoded(out, shown),
        Some(label) => {
            let bare = shown.split_once("://").map_or(shown, |(_, r)| r);
            let label_bare = label.split_once("://").map_or(label, |(_, r)| r);
            push_decoded(out, label);
            if label != shown && label_bare.trim_end_matches('/') != bare.trim_end_matches('/') {
                out.push_str(" (");
                push_decoded(out, shown);
                out.push(')');
            }
        }
    }
}

fn push_prefixed(out: &mut String, prefix: char, name: &str) {
    if !name.starts_with(prefix) {
        out.push(prefix);
    }
    push_decoded(out, name);
}

/// Appends `s` with Slack's three entities decoded in one pass.
fn push_decoded(out: &mut String, s: &str) {
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let (ch, len) = if tail.starts_with("&amp;") {
            ('&', 5)
        } else if tail.starts_with("&lt;") {
            ('<', 4)
        } else if tail.starts_with("&gt;") {
            ('>', 4)
        } else {
            ('&', 1)
        };
        out.push(ch);
        rest = &tail[len..];
    }
    out.push_str(rest);
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOT: Option<&str> = Some("U0LAN0Z89");

    #[test]
    fn removes_the_bots_leading_mention() {
        assert_eq!(
            readable_text("<@U0LAN0Z89> is it everything a river should be?", BOT),
            "is it everything a river should be?"
        );
        assert_eq!(readable_text("<@U0LAN0Z89>: my invoice is wrong", BOT), "my invoice is wrong");
        assert_eq!(readable_text("<@U0LAN0Z89|robin>, help", BOT), "help");
        assert_eq!(readable_text("  <@U0LAN0Z89>  ", BOT), "");
        // Only punctuation glued to the mention goes: an emoji stays.
        assert_eq!(readable_text("<@U0LAN0Z89> :wave: hi", BOT), ":wave: hi");
        assert_eq!(readable_text("<@U0LAN0Z89> , odd", BOT), ", odd");
    }

    #[test]
    fn removes_the_bots_mention_mid_sentence_without_a_double_space() {
        assert_eq!(readable_text("hey <@U0LAN0Z89> can you help", BOT), "hey can you help");
        assert_eq!(readable_text("thanks <@U0LAN0Z89>", BOT), "thanks");
        assert_eq!(readable_text("<@U0LAN0Z89> ping <@U0LAN0Z89> again", BOT), "ping again");
    }

    #[test]
    fn keeps_other_mentions_readable() {
        let text = "<@U0LAN0Z89> can <@U024BE7LH> and <@W123|marisol> see <#C0123|billing> and <#C999>? cc <!here>";
        assert_eq!(readable_text(text, BOT), "can @U024BE7LH and @marisol see #billing and #C999? cc @here");
        assert_eq!(
            readable_text("<!subteam^S012|@support-team> <!channel> <!everyone>", BOT),
            "@support-team @channel @everyone"
        );
        assert_eq!(readable_text("<!subteam^S012>", BOT), "@S012");
        assert_eq!(readable_text("due <!date^1392734382^{date_short}|Feb 18, 2014>", BOT), "due Feb 18, 2014");
        // New-style channel mentions with an empty label.
        assert_eq!(readable_text("see <#C0123|>", BOT), "see #C0123");
    }

    #[test]
    fn without_a_bot_id_nothing_is_removed() {
        assert_eq!(readable_text("<@U0LAN0Z89> hi", None), "@U0LAN0Z89 hi");
        assert_eq!(readable_text("<@U0LAN0Z89> hi", Some("")), "@U0LAN0Z89 hi");
    }

    #[test]
    fn decodes_the_three_entities_once() {
        assert_eq!(readable_text("R&amp;D &lt;3 a&gt;b", None), "R&D <3 a>b");
        assert_eq!(readable_text("literal &amp;lt; stays", None), "literal &lt; stays");
        assert_eq!(readable_text("AT&T &quot;x&quot; &#39; & &am", None), "AT&T &quot;x&quot; &#39; & &am");
    }

    #[test]
    fn renders_links() {
        assert_eq!(readable_text("see <https://tallyloom.com/docs>", None), "see https://tallyloom.com/docs");
        assert_eq!(readable_text("<https://tallyloom.com|tallyloom.com>", None), "tallyloom.com");
        assert_eq!(readable_text("<https://x.io/a?b=1&amp;c=2|the docs>", None), "the docs (https://x.io/a?b=1&c=2)");
        assert_eq!(readable_text("mail <mailto:ana@example.com|ana@example.com>", None), "mail ana@example.com");
    }

    #[test]
    fn survives_unbalanced_brackets_and_odd_input() {
        assert_eq!(readable_text("a < b", None), "a < b");
        assert_eq!(readable_text("x <@U1 <@U0LAN0Z89> y", BOT), "x <@U1 y");
        assert_eq!(readable_text("<>", None), "");
        assert_eq!(readable_text("<|>", None), "");
        assert_eq!(readable_text("héllo 👋 <@U0LAN0Z89> ünï", BOT), "héllo 👋 ünï");
        assert_eq!(readable_text("", BOT), "");
        assert_eq!(readable_text("multi\nline\n<@U0LAN0Z89>", BOT), "multi\nline");
    }

    proptest::proptest! {
        #[test]
        fn never_panics_and_never_grows_unboundedly(text in "[<>@#!|&;a-zA-Z0-9:/. \\n]{0,300}") {
            let out = readable_text(&text, BOT);
            // Links may add " (url)": never more than twice the input.
            proptest::prop_assert!(out.len() <= 2 * text.len() + 1);
        }

        #[test]
        fn never_panics_on_any_unicode(text in "\\PC{0,200}") {
            let _ = readable_text(&text, BOT);
        }
    }
}
