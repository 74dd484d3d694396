//! HTML bodies to plain text, for messages without a text/plain part: a
//! small tag scanner (not a DOM) that drops `<script>`, `<style>`, `<head>`
//! and comments, turns block elements into line breaks and `<br>` into a
//! newline, list items into `- ` lines, keeps links as `text (url)`,
//! prefixes `<blockquote>` lines with `> ` (so the quote stripper sees
//! them) and decodes character references (`&amp;`, `&nbsp;`, `&#39;`,
//! `&#x2014;` and common named ones). Whitespace collapses as a browser
//! would; at most one blank line survives.

/// Elements whose content is never text.
const SKIPPED: [&str; 6] = ["script", "style", "head", "title", "template", "noscript"];

/// Elements that start and end on their own line.
const BLOCKS: [&str; 27] = [
    "address",
    "article",
    "aside",
    "blockquote",
    "center",
    "dd",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "ol",
    "section",
    "table",
    "tr",
    "ul",
];

/// Elements followed by a blank line.
const PARAGRAPHS: [&str; 2] = ["p", "pre"];

struct Out {
    text: String,
    pending_space: bool,
    quote_depth: usize,
    /// Open `<a href>`s: the URL and where the link text starts.
    links: Vec<Option<(String, usize)>>,
}

impl Out {
    fn at_line_start(&self) -> bool {
        self.text.is_empty() || self.text.ends_with('\n')
    }

    fn push_text(&mut self, raw: &str) {
        for c in decode_entities(raw).chars() {
            if c.is_whitespace() && c != '\u{a0}' {
                self.pending_space = true;
                continue;
            }
            let c = if c == '\u{a0}' { ' ' } else { c };
            if self.at_line_start() {
                for _ in 0..self.quote_depth {
                    self.text.push_str("> ");
                }
            } else if self.pending_space {
                self.text.push(' ');
            }
            self.pending_space = false;
            self.text.push(c);
        }
    }

    fn line_break(&mut self) {
        self.pending_space = false;
        self.text.push('\n');
    }

    /// Ensures the output ends with `n` newlines (unless nothing is written yet).
    fn block_break(&mut self, n: usize) {
        self.pending_space = false;
        if self.text.is_empty() {
            return;
        }
        let have = self.text.len() - self.text.trim_end_matches('\n').len();
        for _ in have..n {
            self.text.push('\n');
        }
    }
}

/// Converts an HTML document or fragment to plain text.
pub fn to_text(html: &str) -> String {
    let mut out =
        Out { text: String::with_capacity(html.len() / 2), pending_space: false, quote_depth: 0, links: Vec::new() };
    let mut rest = html;
    while !rest.is_empty() {
        let Some(lt) = rest.find('<') else {
            out.push_text(rest);
            break;
        };
        out.push_text(&rest[..lt]);
        rest = &rest[lt..];
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = after.find("-->").map_or("", |e| &after[e + 3..]);
            continue;
        }
        if rest.starts_with("<!") || rest.starts_with("<?") {
            rest = rest.find('>').map_or("", |e| &rest[e + 1..]);
            continue;
        }
        let closing = rest[1..].starts_with('/');
        let name_start = if closing { 2 } else { 1 };
        let name_len = rest[name_start..].bytes().take_while(u8::is_ascii_alphanumeric).count();
        if name_len == 0 {
            out.push_text("<");
            rest = &rest[1..];
            continue;
        }
        let name = rest[name_start..name_start + name_len].to_ascii_lowercase();
        let end = tag_end(rest).unwrap_or(rest.len());
        let tag = &rest[..end];
        rest = rest.get(end + 1..).unwrap_or("");
        if !closing && SKIPPED.contains(&name.as_str()) && !tag.ends_with('/') {
            rest = skip_element(rest, &name);
            continue;
        }
        handle_tag(&mut out, &name, closing, tag);
    }
    tidy(&out.text)
}

/// The index of the `>` closing the tag at the start of `s`, skipping quoted attribute values.
fn tag_end(s: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    for (i, c) in s.char_indices().skip(1) {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '>') => return Some(i),
            _ => {}
        }
    }
    None
}

/// The rest after `</name ...>` (ASCII case-insensitive), or nothing.
fn skip_element<'a>(rest: &'a str, name: &str) -> &'a str {
    let needle = format!("</{name}");
    let bytes = rest.as_bytes();
    let n = needle.len();
    let mut i = 0;
    while i + n <= bytes.len() {
        if bytes[i] == b'<' && bytes[i..i + n].eq_ignore_ascii_case(needle.as_bytes()) {
            let after = &rest[i..];
            return after.find('>').map_or("", |e| &after[e + 1..]);
        }
        i += 1;
    }
    ""
}

fn handle_tag(out: &mut Out, name: &str, closing: bool, tag: &str) {
    match name {
        "br" => out.line_break(),
        "a" if !closing => {
            let href = attribute(tag, "href").map(|h| decode_entities(&h).trim().to_string());
            let link = href.filter(|h| h.starts_with("http://") || h.starts_with("https://"));
            out.links.push(link.map(|h| (h, out.text.len())));
        }
        "a" => {
            if let Some(Some((href, start))) = out.links.pop() {
                let text = out.text.get(start..).unwrap_or("").trim();
                let bare = href.trim_start_matches("https://").trim_start_matches("http://").trim_end_matches('/');
                let same = text == href || text.trim_end_matches('/') == bare;
                if !text.is_empty() && !same {
                    out.text.push_str(&format!(" ({href})"));
                }
            }
        }
        "blockquote" => {
            out.block_break(1);
            out.quote_depth = if closing { out.quote_depth.saturating_sub(1) } else { out.quote_depth + 1 };
        }
        "li" if !closing => {
            out.block_break(1);
            out.push_text("-");
            out.pending_space = true;
        }
        "td" | "th" if closing => out.pending_space = true,
        n if PARAGRAPHS.contains(&n) => out.block_break(2),
        n if BLOCKS.contains(&n) => out.block_break(1),
        _ => {}
    }
}

/// The value of attribute `name` in a start tag.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    while let Some(pos) = lower[from..].find(name) {
        let at = from + pos;
        from = at + name.len();
        let before_ok = lower[..at].ends_with(|c: char| c.is_whitespace());
        let after = lower[from..].trim_start();
        if !before_ok || !after.starts_with('=') {
            continue;
        }
        let value_start = tag.len() - after.len() + 1;
        let v = tag[value_start..].trim_start();
        return Some(match v.chars().next() {
            Some(q @ ('"' | '\'')) => v[1..].split(q).next().unwrap_or("").to_string(),
            _ => v.split(|c: char| c.is_whitespace() || c == '>').next().unwrap_or("").to_string(),
        });
    }
    None
}

/// Decodes character references; unknown ones are kept as written.
pub fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let end = rest.char_indices().take(12).find(|&(_, c)| c == ';').map(|(i, _)| i);
        let decoded = end.and_then(|e| entity(&rest[1..e]).map(|c| (c, e)));
        match decoded {
            Some((c, e)) => {
                out.push(c);
                rest = &rest[e + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn entity(name: &str) -> Option<char> {
    if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        return char::from_u32(code).filter(|c| *c != '\0');
    }
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => '\u{a0}',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "euro" => '€',
        "pound" => '£',
        "hellip" => '…',
        "ndash" => '–',
        "mdash" => '—',
        "lsquo" => '‘',
        "rsquo" => '’',
        "ldquo" => '“',
        "rdquo" => '”',
        "bull" => '•',
        "middot" => '·',
        "laquo" => '«',
        "raquo" => '»',
        _ => return None,
    })
}

/// Trims line ends and keeps at most one blank line in a row.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank_run = 0;
    for line in text.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank_run += 1;
            if blank_run > 1 {
                continue;
            }
        } else {
            blank_run = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_blocks_breaks_and_lists() {
        let html = "<html><head><title>T</title><style>p{color:red}</style></head><body>\
            <p>Hello&nbsp;Marisol,</p><div>Line one<br>Line   two<BR/>\n</div>\
            <ul><li>first</li><li>second</li></ul><p>Bye</p></body></html>";
        assert_eq!(to_text(html), "Hello Marisol,\n\nLine one\nLine two\n- first\n- second\n\nBye");
    }

    #[test]
    fn drops_scripts_and_comments() {
        let html = "a<script type=\"x\">if (a < b) { alert('</p>') }</SCRIPT>b<!-- hidden <p> -->c<!DOCTYPE html>";
        assert_eq!(to_text(html), "abc");
        assert_eq!(to_text("<style>unterminated"), "");
    }

    #[test]
    fn keeps_links_and_decodes_entities() {
        let html = r#"See <a href="https://acme.com/help?a=1&amp;b=2">our help</a>, <a href='https://acme.com'>acme.com</a>
            and <a href="mailto:x@y.z">mail</a>. Tom &amp; Jerry&#39;s &lt;tag&gt; &#x2014; &bogus; & done"#;
        assert_eq!(
            to_text(html),
            "See our help (https://acme.com/help?a=1&b=2), acme.com and mail. Tom & Jerry's <tag> — &bogus; & done"
        );
    }

    #[test]
    fn prefixes_blockquotes() {
        let html = "<div>Thanks!</div><div class=\"gmail_quote\">On Mon wrote:<blockquote>old <b>text</b><br>more</blockquote></div>";
        assert_eq!(to_text(html), "Thanks!\nOn Mon wrote:\n> old text\n> more");
    }

    #[test]
    fn survives_broken_markup() {
        for s in ["<", "<<>>", "<a href=\"x", "</", "a < b > c", "<p", "&#xFFFFFFFF;", "&#0;", "<a>x</a></a>"] {
            let _ = to_text(s);
        }
        assert_eq!(to_text("a < b"), "a < b");
        assert_eq!(to_text("<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>"), "a b\nc");
    }
}
