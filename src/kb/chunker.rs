//! Splits a markdown article into knowledge-base chunks by heading: the
//! text under the `#` title (before the first `##`) is one chunk, then one
//! chunk per `##` section, and one per `###` subsection (the `##` text
//! before its first `###` stays a chunk of its own). Each chunk knows its
//! article (file name and title) and its heading path, so a search hit can
//! say where it came from and a reply can quote one section of a long
//! article rather than its opening.

/// One searchable piece of an article.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chunk {
    /// The article's file name, e.g. `password-reset.md`.
    pub document: String,
    pub title: String,
    /// The headings below the title, joined by ` > ` (`## Request a link`
    /// then `### By email` gives `Request a link > By email`); empty for
    /// the introduction.
    pub heading: String,
    pub index: u32,
    pub content: String,
}

/// What joins the headings of a path.
pub const PATH_SEPARATOR: &str = " > ";

impl Chunk {
    /// The heading path from the article's title down to this chunk's
    /// heading: `["Password reset", "Request a link", "By email"]`.
    pub fn path(&self) -> Vec<&str> {
        heading_path(&self.title, &self.heading)
    }
}

/// The heading path of a chunk stored as `title` and `heading`.
pub fn heading_path<'a>(title: &'a str, heading: &'a str) -> Vec<&'a str> {
    let mut path = vec![title];
    if !heading.is_empty() {
        path.extend(heading.split(PATH_SEPARATOR));
    }
    path
}

/// Splits `markdown` into chunks. An article without a `#` title takes its
/// file name (without `.md`) as the title. Empty sections are dropped.
pub fn chunk_markdown(document: &str, markdown: &str) -> Vec<Chunk> {
    let mut title = None;
    // (heading path below the title, lines)
    let mut sections: Vec<(String, Vec<&str>)> = vec![(String::new(), Vec::new())];
    let mut section = String::new();
    let mut in_code = false;
    for line in markdown.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") {
            in_code = !in_code;
        }
        if !in_code {
            if let Some(t) = trimmed.strip_prefix("# ") {
                if title.is_none() {
                    title = Some(t.trim().to_string());
                    continue;
                }
            } else if let Some(h) = trimmed.strip_prefix("## ") {
                section = h.trim().to_string();
                sections.push((section.clone(), Vec::new()));
                continue;
            } else if let Some(h) = trimmed.strip_prefix("### ") {
                let path = if section.is_empty() {
                    h.trim().to_string()
                } else {
                    format!("{section}{PATH_SEPARATOR}{}", h.trim())
                };
                sections.push((path, Vec::new()));
                continue;
            }
        }
        if let Some((_, lines)) = sections.last_mut() {
            lines.push(line);
        }
    }
    let title = title.unwrap_or_else(|| document.trim_end_matches(".md").replace(['-', '_'], " "));
    let mut chunks = Vec::new();
    for (heading, lines) in sections {
        let content = lines.join("\n").trim().to_string();
        if content.is_empty() {
            continue;
        }
        chunks.push(Chunk {
            document: document.to_string(),
            title: title.clone(),
            heading,
            index: u32::try_from(chunks.len()).unwrap_or(u32::MAX),
            content,
        });
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_by_headings_and_each_chunk_knows_its_path() {
        let md = "# Reset\n\nIntro text.\n\n## Request a link\n\n1. Go.\n\n### Detail\nMore.\n\n## Empty\n\n## Locked\nPaused.\n";
        let chunks = chunk_markdown("reset.md", md);
        let got: Vec<(&str, &str)> = chunks.iter().map(|c| (c.heading.as_str(), c.content.as_str())).collect();
        assert_eq!(
            got,
            vec![
                ("", "Intro text."),
                ("Request a link", "1. Go."),
                ("Request a link > Detail", "More."),
                ("Locked", "Paused.")
            ]
        );
        assert!(chunks.iter().all(|c| c.title == "Reset" && c.document == "reset.md"));
        assert_eq!(chunks.iter().map(|c| c.index).collect::<Vec<_>>(), vec![0, 1, 2, 3]);
        assert_eq!(chunks[0].path(), vec!["Reset"]);
        assert_eq!(chunks[1].path(), vec!["Reset", "Request a link"]);
        assert_eq!(chunks[2].path(), vec!["Reset", "Request a link", "Detail"]);
    }

    #[test]
    fn a_subsection_without_a_section_hangs_from_the_title() {
        let chunks = chunk_markdown("t.md", "# T\n### Only\nText.\n");
        assert_eq!(chunks[0].path(), vec!["T", "Only"]);
    }

    #[test]
    fn headings_inside_code_blocks_are_content() {
        let md = "# T\n## A\n```\n## not a heading\n### nor this\n```\n";
        let chunks = chunk_markdown("t.md", md);
        assert_eq!(chunks.len(), 1);
        assert!(chunks[0].content.contains("## not a heading"));
        assert!(chunks[0].content.contains("### nor this"));
    }

    #[test]
    fn untitled_article_takes_its_file_name() {
        let chunks = chunk_markdown("api-keys.md", "Some text.");
        assert_eq!(chunks[0].title, "api keys");
        assert_eq!(chunks[0].path(), vec!["api keys"]);
    }
}
