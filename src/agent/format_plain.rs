//! Light markdown → plain text, for the channels that show text as it is
//! (email bodies are `text/plain`; the web form's status page shows
//! replies as text). Replies are written in light markdown (see
//! `format.rs`); here every piece of syntax becomes its plain reading:
//!
//! - `**bold**`, `__bold__`, `*italic*`, `_italic_`, `~~struck~~` → the
//!   words alone (an `_` inside a word, as in `api_key`, stays);
//! - `` `code` `` and code fences → the code without backticks;
//! - `# Heading` (any depth, and any other leading `#`) → a plain line;
//!   `> quotes` → the quoted line; rules (`---`, `***`) → dropped;
//! - `[text](url)` and `![alt](url)` → `text (url)`, or the URL alone when
//!   the text is the URL; `<https://…>` → the URL;
//! - `- `, `* ` and `+ ` bullets → `- ` lines; `1.` steps stay as they are;
//! - `\*` and other backslash escapes → the character.
//!
//! Bare URLs are copied untouched (an `_` or `*` in a URL is part of it).
//! Whatever the input, the result has no `**`, `__`, `](` or line starting
//! with `#` outside URLs ([`plain_text`] ends with a pass that makes sure).

/// The plain-text reading of `s` (one paragraph or several lines).
pub fn plain_text(s: &str) -> String {
    let lines: Vec<String> = s.lines().filter_map(plain_line).collect();
    lines.join("\n")
}

/// One line: block markers first (fences, rules, headings, quotes,
/// bullets), then the inline markup. `None`: the line is only markup.
fn plain_line(line: &str) -> Option<String> {
    let indent_len = line.len() - line.trim_start().len();
    let (indent, rest) = line.split_at(indent_len);
    let rest = rest.trim_end();
    if rest.starts_with("```") || rest.starts_with("~~~") || is_rule(rest) {
        return None;
    }
    // Quote markers, then heading markers (`> ## x` is a quoted heading).
    let mut rest = rest;
    while let Some(r) = rest.strip_prefix('>') {
        rest = r.trim_start();
    }
    let rest = rest.trim_start_matches(heading_mark);
    let (bullet, rest) = match rest.split_at_checked(2) {
        Some(("- " | "* " | "+ ", r)) => ("- ", r.trim_start()),
        _ => ("", rest),
    };
    let text = sanitize(&inline(rest));
    // Removed markup may have left a `#` (or spaces before one) in front.
    let text = if bullet.is_empty() { text.trim_start_matches(heading_mark).to_string() } else { text };
    Some(format!("{indent}{bullet}{text}"))
}

/// What a heading marker is made of: `#` and the spaces between them
/// (`# # #` is all marker).
fn heading_mark(c: char) -> bool {
    c == '#' || c.is_whitespace()
}

/// A thematic break (`---`, `***`, `___`, `* * *`) or a setext underline
/// (`===`): three or more of one such character and spaces.
fn is_rule(s: &str) -> bool {
    let Some(first) = s.chars().next() else { return false };
    matches!(first, '-' | '*' | '_' | '=')
        && s.chars().all(|c| c == first || c == ' ')
        && s.chars().filter(|c| *c == first).count() >= 3
}

/// A piece of a line while emphasis is being matched.
enum Piece {
    Text(String),
    /// A run of `*`, `_` or `~`: how many are left unmatched, and whether
    /// it may open or close emphasis.
    Delim {
        ch: char,
        left: usize,
        open: bool,
        close: bool,
    },
}

/// Inline markup of one line → its text.
fn inline(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut pieces: Vec<Piece> = Vec::new();
    let mut text = String::new();
    let flush = |text: &mut String, pieces: &mut Vec<Piece>| {
        if !text.is_empty() {
            pieces.push(Piece::Text(std::mem::take(text)));
        }
    };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let prev = i.checked_sub(1).map(|p| chars[p]);
        // A bare URL, copied as it is.
        if url_at(&chars, i) {
            let end = url_end(&chars, i);
            text.extend(&chars[i..end]);
            i = end;
            continue;
        }
        match c {
            '\\' if chars.get(i + 1).is_some_and(|n| n.is_ascii_punctuation()) => {
                // An escaped character is literal; a markup character
                // becomes a Text piece of its own so it never pairs.
                flush(&mut text, &mut pieces);
                pieces.push(Piece::Text(chars[i + 1].to_string()));
                i += 2;
            }
            '`' => {
                let run = run_len(&chars, i, '`');
                match find_run(&chars, i + run, '`', run) {
                    Some(close) => {
                        let code: String = chars[i + run..close].iter().collect();
                        let code = if code.starts_with(' ') && code.ends_with(' ') && code.trim() != "" {
                            code[1..code.len() - 1].to_string()
                        } else {
                            code
                        };
                        // Code keeps its characters; only the backticks go.
                        flush(&mut text, &mut pieces);
                        pieces.push(Piece::Text(code));
                        i = close + run;
                    }
                    None => i += run,
                }
            }
            '!' if chars.get(i + 1) == Some(&'[') => match link_at(&chars, i + 1) {
                Some((label, url, end)) => {
                    text.push_str(&render_link(&label, &url));
                    i = end;
                }
                None => {
                    text.push('!');
                    i += 1;
                }
            },
            '[' => match link_at(&chars, i) {
                Some((label, url, end)) => {
                    text.push_str(&render_link(&label, &url));
                    i = end;
                }
                None => {
                    text.push('[');
                    i += 1;
                }
            },
            '<' => match autolink_at(&chars, i) {
                Some((target, end)) => {
                    text.push_str(&target);
                    i = end;
                }
                None => {
                    text.push('<');
                    i += 1;
                }
            },
            '*' | '_' | '~' => {
                let run = run_len(&chars, i, c);
                let before = prev;
                let after = chars.get(i + run).copied();
                let mut open = after.is_some_and(|a| !a.is_whitespace());
                let mut close = before.is_some_and(|b| !b.is_whitespace());
                if c == '_' {
                    // No emphasis inside a word: `snake_case` stays.
                    open &= !before.is_some_and(char::is_alphanumeric);
                    close &= !after.is_some_and(char::is_alphanumeric);
                }
                if c == '~' && run < 2 {
                    open = false;
                    close = false;
                }
                flush(&mut text, &mut pieces);
                pieces.push(Piece::Delim { ch: c, left: run, open, close });
                i += run;
            }
            _ => {
                text.push(c);
                i += 1;
            }
        }
    }
    flush(&mut text, &mut pieces);
    match_emphasis(&mut pieces);
    let mut out = String::new();
    for p in pieces {
        match p {
            Piece::Text(t) => out.push_str(&t),
            // What no partner matched: a lone `*`, `_` or `~` is ordinary
            // text ("5 * 3"), a longer run of `*` or `_` is stray markup.
            Piece::Delim { ch, left, .. } => match (ch, left) {
                (_, 0) => {}
                ('~', n) => out.extend(std::iter::repeat_n('~', n)),
                (_, 1) => out.push(ch),
                ('_', _) => out.push('_'),
                _ => {}
            },
        }
    }
    out
}

/// Pairs emphasis delimiters like CommonMark does, simplified: each closer
/// takes the nearest opener of its character before it (two at a time when
/// both have two); delimiters between a matched pair cannot match past it.
fn match_emphasis(pieces: &mut [Piece]) {
    for closer in 0..pieces.len() {
        loop {
            let (ch, close_left) = match &pieces[closer] {
                Piece::Delim { ch, left, close: true, .. } if *left > 0 => (*ch, *left),
                _ => break,
            };
            let opener = (0..closer)
                .rev()
                .find(|&k| matches!(&pieces[k], Piece::Delim { ch: c, left, open: true, .. } if *c == ch && *left > 0));
            let Some(opener) = opener else { break };
            let Piece::Delim { left: open_left, .. } = &pieces[opener] else { break };
            let take = if ch == '~' || (*open_left >= 2 && close_left >= 2) { 2 } else { 1 };
            if ch == '~' && (*open_left < 2 || close_left < 2) {
                break;
            }
            for k in [opener, closer] {
                if let Piece::Delim { left, .. } = &mut pieces[k] {
                    *left = left.saturating_sub(take);
                }
            }
            for piece in pieces.iter_mut().take(closer).skip(opener + 1) {
                if let Piece::Delim { open, close, .. } = piece {
                    *open = false;
                    *close = false;
                }
            }
        }
    }
}

fn run_len(chars: &[char], from: usize, c: char) -> usize {
    chars[from..].iter().take_while(|x| **x == c).count()
}

/// The start of the next run of exactly `len` `c`s at or after `from`.
fn find_run(chars: &[char], from: usize, c: char, len: usize) -> Option<usize> {
    let mut i = from;
    while i < chars.len() {
        if chars[i] == c {
            let run = run_len(chars, i, c);
            if run == len {
                return Some(i);
            }
            i += run;
        } else {
            i += 1;
        }
    }
    None
}

/// Whether a bare URL starts at `i`: `http://` or `https://` at the start
/// of a word (or right after an opening bracket, quote or emphasis mark).
fn url_at(chars: &[char], i: usize) -> bool {
    if i.checked_sub(1).is_some_and(|p| !(chars[p].is_whitespace() || "(*_\"'".contains(chars[p]))) {
        return false;
    }
    let starts = |scheme: &str| scheme.chars().enumerate().all(|(k, c)| chars.get(i + k) == Some(&c));
    chars[i] == 'h' && (starts("http://") || starts("https://"))
}

/// Where a bare URL starting at `start` ends: at whitespace or a character
/// URLs do not carry in text; trailing sentence punctuation, emphasis
/// markers and an unbalanced `)` are left out of it.
fn url_end(chars: &[char], start: usize) -> usize {
    let mut end = start;
    while end < chars.len() && !chars[end].is_whitespace() && !matches!(chars[end], '<' | '>' | '`' | '"' | '*') {
        end += 1;
    }
    while let Some(last) = end.checked_sub(1).filter(|e| *e > start).map(|e| chars[e]) {
        let url = &chars[start..end];
        let unbalanced =
            last == ')' && url.iter().filter(|c| **c == ')').count() > url.iter().filter(|c| **c == '(').count();
        if matches!(last, '.' | ',' | ';' | ':' | '!' | '?' | '_' | '~' | '\'') || unbalanced {
            end -= 1;
        } else {
            break;
        }
    }
    end
}

/// `[label](url "title")` starting at `open` (the `[`): the label, the
/// URL and the index after the closing `)`.
fn link_at(chars: &[char], open: usize) -> Option<(String, String, usize)> {
    let mut depth = 0usize;
    let mut close = None;
    for (k, c) in chars.iter().enumerate().skip(open) {
        match c {
            '[' => depth += 1,
            ']' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(k);
                    break;
                }
            }
            _ => {}
        }
    }
    let close = close?;
    if chars.get(close + 1) != Some(&'(') {
        return None;
    }
    let mut depth = 0usize;
    let mut end = None;
    for (k, c) in chars.iter().enumerate().skip(close + 1) {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    end = Some(k);
                    break;
                }
            }
            _ => {}
        }
    }
    let end = end?;
    let label: String = chars[open + 1..close].iter().collect();
    let target: String = chars[close + 2..end].iter().collect();
    let target = target.trim();
    // An optional title after the URL, and `<…>` around it, are not shown.
    let url = target.split_whitespace().next().unwrap_or_default();
    let url = url.strip_prefix('<').and_then(|u| u.strip_suffix('>')).unwrap_or(url);
    Some((label, url.to_string(), end + 1))
}

/// `<https://…>` or `<mailto:…>` / `<name@example.com>`: the target and
/// the index after `>`.
fn autolink_at(chars: &[char], open: usize) -> Option<(String, usize)> {
    let close = (open + 1..chars.len()).find(|k| chars[*k] == '>' || chars[*k].is_whitespace() || chars[*k] == '<')?;
    if chars[close] != '>' {
        return None;
    }
    let inner: String = chars[open + 1..close].iter().collect();
    let is_link = inner.starts_with("http://")
        || inner.starts_with("https://")
        || inner.starts_with("mailto:")
        || (inner.contains('@') && !inner.starts_with('@'));
    is_link.then(|| (inner.strip_prefix("mailto:").unwrap_or(&inner).to_string(), close + 1))
}

/// A link's plain reading: `text (url)`, or the URL alone when the text
/// says nothing more (it is the URL, or the address of a `mailto:`).
fn render_link(label: &str, url: &str) -> String {
    let text = sanitize(&inline(label));
    let text = text.trim();
    let shown = url.strip_prefix("mailto:").unwrap_or(url);
    if url.is_empty() {
        text.to_string()
    } else if text.is_empty() || text == url || text == shown {
        shown.to_string()
    } else {
        format!("{text} ({shown})")
    }
}

/// The last pass: outside URLs, runs of `*` or `_` shrink to one, and
/// `](` gets a space, so no markup survives whatever the input.
fn sanitize(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < chars.len() {
        if url_at(&chars, i) {
            let end = url_end(&chars, i);
            out.extend(&chars[i..end]);
            i = end;
            continue;
        }
        let c = chars[i];
        if matches!(c, '*' | '_') {
            out.push(c);
            i += run_len(&chars, i, c);
            continue;
        }
        out.push(c);
        if c == ']' && chars.get(i + 1) == Some(&'(') {
            out.push(' ');
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_becomes_its_plain_reading() {
        let cases = [
            ("Go to **Settings > Billing**.", "Go to Settings > Billing."),
            ("__Bold__ and *italic* and _also_.", "Bold and italic and also."),
            ("***both***", "both"),
            ("Set `api_key` in `config.toml`", "Set api_key in config.toml"),
            ("``a ` b``", "a ` b"),
            ("# Title", "Title"),
            ("### Deep heading", "Deep heading"),
            ("# # # Spaced heading", "Spaced heading"),
            ("#hashtag", "hashtag"),
            ("> ## Quoted heading", "Quoted heading"),
            ("See [the guide](https://help.tallyloom.com/x).", "See the guide (https://help.tallyloom.com/x)."),
            ("[https://a.io](https://a.io)", "https://a.io"),
            ("Mail [support@x.io](mailto:support@x.io)", "Mail support@x.io"),
            ("![diagram](https://a.io/d.png)", "diagram (https://a.io/d.png)"),
            ("[wiki](https://en.wikipedia.org/wiki/Foo_(bar))", "wiki (https://en.wikipedia.org/wiki/Foo_(bar))"),
            ("[**Billing**](https://a.io \"title\")", "Billing (https://a.io)"),
            ("Open <https://a.io/b_c>", "Open https://a.io/b_c"),
            ("* item", "- item"),
            ("+ item", "- item"),
            ("  - nested **x**", "  - nested x"),
            ("1. Open **Reports**", "1. Open Reports"),
            ("snake_case_name and 5 * 3 = 15", "snake_case_name and 5 * 3 = 15"),
            ("https://a.io/__x__/y_z*", "https://a.io/__x__/y_z*"),
            ("**https://a.io/x**", "https://a.io/x"),
            ("(see https://a.io/x).", "(see https://a.io/x)."),
            ("~~old~~ new ~5 min", "old new ~5 min"),
            (r"\*not bold\* and \# sign", "*not bold* and # sign"),
            (r"\*\*still not bold\*\*", "*still not bold*"),
            ("**unclosed bold", "unclosed bold"),
            ("a ** b __ c", "a  b _ c"),
            ("[broken](link", "[broken] (link"),
            ("fill in ____ here", "fill in _ here"),
            ("2 <3 and a<b>", "2 <3 and a<b>"),
        ];
        for (input, want) in cases {
            assert_eq!(plain_text(input), want, "{input}");
        }
    }

    #[test]
    fn rules_and_fences_go_lines_stay() {
        let text = "**Steps**\n---\n```\ncurl https://a.io\n```\n* * *\nDone\n===";
        assert_eq!(plain_text(text), "Steps\ncurl https://a.io\nDone");
    }
}
