//! HTML bodies to plain text, for messages without a text/plain part,
//! through the `html2text` crate (an HTML5 parser, so entities, implied
//! tags and broken markup are read as a browser would). The rendering
//! suits the quote stripper: `<blockquote>` lines start with `> `, block
//! elements and `<br>` end lines, list items are `- ` (or `1. `) lines,
//! table cells each take a line, links to the web stay as `text (url)`,
//! and emphasis, images and headings add no marks. Lines are never
//! wrapped; at most one blank line survives. A document nested deeper than
//! `MAX_NESTING` (the HTML parser's cost grows with depth times tags, so a
//! hostile one could take seconds) and one `html2text` refuses are read by
//! `mail-parser`'s flat converter instead.

use html2text::render::{TaggedLineElement, TextDecorator};

/// Lines longer than this many columns are wrapped (never, in practice).
const WIDTH: usize = 1 << 16;

/// The deepest element nesting given to the HTML parser.
const MAX_NESTING: usize = 256;

/// Elements that never hold others (void ones) or that the parser closes
/// when a sibling opens (`<p><p>`, `<li><li>`): they add no nesting.
const NOT_NESTING: [&str; 34] = [
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr", "p",
    "li", "dt", "dd", "option", "optgroup", "tr", "td", "th", "thead", "tbody", "tfoot", "colgroup", "rb", "rt", "rp",
    "rtc", "html", "head", "body",
];

/// Converts an HTML document or fragment to plain text.
pub fn to_text(html: &str) -> String {
    let lines = (nesting(html) <= MAX_NESTING)
        .then(|| {
            html2text::config::with_decorator(MailText)
                .raw_mode(true)
                .allow_width_overflow()
                .no_link_wrapping()
                .unicode_strikeout(false)
                .lines_from_read(html.as_bytes(), WIDTH)
                .ok()
        })
        .flatten();
    let Some(lines) = lines else { return tidy(&mail_parser::decoders::html::html_to_text(html)) };
    let mut out = String::with_capacity(html.len() / 2);
    for line in &lines {
        // The link being written: its URL and where its text starts.
        let mut link: Option<(&str, usize)> = None;
        for element in line.iter() {
            let TaggedLineElement::Str(piece) = element else { continue };
            let url = piece.tag.iter().rev().find_map(|a| a.as_deref());
            if link.map(|(u, _)| u) != url {
                close_link(&mut out, link.take());
                link = url.map(|u| (u, out.len()));
            }
            out.push_str(&piece.s);
        }
        close_link(&mut out, link);
        out.push('\n');
    }
    tidy(&out.replace('\u{a0}', " "))
}

/// An upper bound of the element nesting: start tags minus end tags, of
/// the elements that can nest.
fn nesting(html: &str) -> usize {
    let bytes = html.as_bytes();
    let (mut depth, mut max, mut at) = (0usize, 0usize, 0usize);
    while let Some(lt) = bytes[at..].iter().position(|&b| b == b'<') {
        let closing = bytes.get(at + lt + 1) == Some(&b'/');
        let start = at + lt + 1 + usize::from(closing);
        let len = bytes[start..].iter().take_while(|b| b.is_ascii_alphanumeric()).count();
        at = start + len;
        let name = &html[start..start + len];
        if len == 0 || NOT_NESTING.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            continue;
        }
        if closing {
            depth = depth.saturating_sub(1);
        } else {
            depth += 1;
            max = max.max(depth);
        }
    }
    max
}

/// Appends ` (url)` after a link's text, unless the text is the URL.
fn close_link(out: &mut String, link: Option<(&str, usize)>) {
    let Some((url, start)) = link else { return };
    let text = out.get(start..).unwrap_or("").trim();
    if !text.is_empty() && bare_url(text) != bare_url(url) {
        out.push_str(&format!(" ({url})"));
    }
}

fn bare_url(s: &str) -> &str {
    s.trim().trim_start_matches("https://").trim_start_matches("http://").trim_end_matches('/')
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

/// The rendering: quote and list prefixes, web links as annotations (the
/// URL), nothing else.
#[derive(Clone, Copy)]
struct MailText;

impl TextDecorator for MailText {
    type Annotation = Option<String>;

    fn decorate_link_start(&mut self, url: &str) -> (String, Self::Annotation) {
        let url = url.trim();
        let web = url.starts_with("http://") || url.starts_with("https://");
        (String::new(), web.then(|| url.to_string()))
    }

    fn decorate_link_end(&mut self) -> String {
        String::new()
    }

    fn decorate_em_start(&self) -> (String, Self::Annotation) {
        (String::new(), None)
    }

    fn decorate_em_end(&self) -> String {
        String::new()
    }

    fn decorate_strong_start(&self) -> (String, Self::Annotation) {
        (String::new(), None)
    }

    fn decorate_strong_end(&self) -> String {
        String::new()
    }

    fn decorate_strikeout_start(&self) -> (String, Self::Annotation) {
        (String::new(), None)
    }

    fn decorate_strikeout_end(&self) -> String {
        String::new()
    }

    fn decorate_code_start(&self) -> (String, Self::Annotation) {
        (String::new(), None)
    }

    fn decorate_code_end(&self) -> String {
        String::new()
    }

    fn decorate_preformat_first(&self) -> Self::Annotation {
        None
    }

    fn decorate_preformat_cont(&self) -> Self::Annotation {
        None
    }

    fn decorate_image(&mut self, _src: &str, _title: &str) -> (String, Self::Annotation) {
        (String::new(), None)
    }

    fn header_prefix(&self, _level: usize) -> String {
        String::new()
    }

    fn quote_prefix(&self) -> String {
        "> ".to_string()
    }

    fn unordered_item_prefix(&self) -> String {
        "- ".to_string()
    }

    fn ordered_item_prefix(&self, i: i64) -> String {
        format!("{i}. ")
    }

    fn make_subblock_decorator(&self) -> Self {
        *self
    }
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
        assert_eq!(
            to_text("<ol><li>a<li>b</ol><h1>Title</h1><img src=x alt=logo><s>gone</s>"),
            "1. a\n2. b\n\nTitle\n\ngone"
        );
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
            and <a href="mailto:x@y.z">mail</a>. Tom &amp; Jerry&#39;s &lt;tag&gt; &#x2014; &bogus; & done &eacute;"#;
        assert_eq!(
            to_text(html),
            "See our help (https://acme.com/help?a=1&b=2), acme.com and mail. Tom & Jerry's <tag> — &bogus; & done é"
        );
    }

    #[test]
    fn prefixes_blockquotes() {
        let html = "<div>Thanks!</div><div class=\"gmail_quote\">On Mon wrote:<blockquote>old <b>text</b><br>more</blockquote></div>";
        assert_eq!(to_text(html), "Thanks!\nOn Mon wrote:\n\n> old text\n> more");
        let quote = super::super::super::quoting::clean(&to_text(html));
        assert_eq!(quote.body, "Thanks!");
        assert!(quote.quote_stripped);
    }

    #[test]
    fn survives_broken_markup() {
        for s in ["<", "<<>>", "<a href=\"x", "</", "a < b > c", "<p", "&#xFFFFFFFF;", "&#0;", "<a>x</a></a>", ""] {
            let _ = to_text(s);
        }
        assert_eq!(to_text("a < b"), "a < b");
        assert_eq!(to_text("<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>"), "a\nb\nc");
    }

    #[test]
    fn deep_nesting_takes_the_flat_converter() {
        assert_eq!(nesting("<div><p><div></div><br><span>x</span></div>"), 2);
        assert_eq!(nesting(&"<p>".repeat(1000)), 0);
        let deep = "<div>".repeat(20_000) + "deep<br>text";
        assert!(nesting(&deep) > MAX_NESTING);
        assert_eq!(to_text(&deep), "deep\ntext");
        let shallow = "<div>".repeat(MAX_NESTING - 1) + "a<blockquote>b</blockquote>";
        assert_eq!(to_text(&shallow), "a\n\n> b");
    }
}
