//! Splits a markdown article into knowledge-base chunks by heading: the
//! text under the `#` title (before the first `##`) is one chunk, then one
//! chunk per `##` section (its `###` subsections stay with it). Each chunk
//! keeps the article's file name, its title and its heading, so a search
//! hit can say where it came from.

/// One searchable piece of an article.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chunk {
    /// The article's file name, e.g. `password-reset.md`.
    pub document: String,
    pub title: String,
    /// The `##` heading; empty for the introduction.
    pub heading: String,
    pub index: u32,
    pub content: String,
}

/// Splits `markdown` into chunks. An article without a `#` title takes its
/// file name (without `.md`) as the title. Empty sections are dropped.
pub fn chunk_markdown(document: &str, markdown: &str) -> Vec<Chunk> {
    let mut title = None;
    let mut sections: Vec<(String, Vec<&str>)> = vec![(String::new(), Vec::new())];
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
                sections.push((h.trim().to_string(), Vec::new()));
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
    fn splits_by_second_level_headings_and_keeps_subsections() {
        let md = "# Reset\n\nIntro text.\n\n## Request a link\n\n1. Go.\n\n### Detail\nMore.\n\n## Empty\n\n## Locked\nPaused.\n";
        let chunks = chunk_markdown("reset.md", md);
        let got: Vec<(&str, &str)> = chunks.iter().map(|c| (c.heading.as_str(), c.content.as_str())).collect();
        assert_eq!(
            got,
            vec![("", "Intro text."), ("Request a link", "1. Go.\n\n### Detail\nMore."), ("Locked", "Paused.")]
        );
        assert!(chunks.iter().all(|c| c.title == "Reset" && c.document == "reset.md"));
        assert_eq!(chunks.iter().map(|c| c.index).collect::<Vec<_>>(), vec![0, 1, 2]);
    }

    #[test]
    fn headings_inside_code_blocks_are_content() {
        let md = "# T\n## A\n```\n## not a heading\n```\n";
        let chunks = chunk_markdown("t.md", md);
        assert_eq!(chunks.len(), 1);
        assert!(chunks[0].content.contains("## not a heading"));
    }

    #[test]
    fn untitled_article_takes_its_file_name() {
        let chunks = chunk_markdown("api-keys.md", "Some text.");
        assert_eq!(chunks[0].title, "api keys");
    }
}
