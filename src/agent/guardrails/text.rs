//! Text preparation shared by every guardrail: folding a message into one comparable form
//! (lower case, no accents, straight quotes, single spaces), cutting it into sentences, and
//! finding the clause a match sits in. Nothing here knows about escalation reasons.

/// Lower-cases `text`, strips common Latin accents (`é` → `e`, `ß` → `ss`), straightens
/// typographic quotes and dashes, and collapses runs of spaces and tabs into one space.
/// Newlines are kept, because they separate lines of an email (subject, signature).
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    for ch in text.chars() {
        if ch == '\n' || ch == '\r' {
            pending_space = false;
            if !out.ends_with('\n') {
                out.push('\n');
            }
            continue;
        }
        if ch.is_whitespace() {
            pending_space = !out.is_empty() && !out.ends_with('\n');
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        push_folded(&mut out, ch);
    }
    out
}

/// Appends the folded form of one character.
fn push_folded(out: &mut String, ch: char) {
    let mapped = match ch {
        '\u{2018}' | '\u{2019}' | '\u{201B}' | '`' | '\u{00B4}' => '\'',
        '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{00AB}' | '\u{00BB}' => '"',
        '\u{2010}'..='\u{2015}' | '\u{2212}' => '-',
        '\u{00A0}' => ' ',
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => 'a',
        'ç' | 'Ç' => 'c',
        'è' | 'é' | 'ê' | 'ë' | 'È' | 'É' | 'Ê' | 'Ë' => 'e',
        'ì' | 'í' | 'î' | 'ï' | 'Ì' | 'Í' | 'Î' | 'Ï' => 'i',
        'ñ' | 'Ñ' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' => 'o',
        'ù' | 'ú' | 'û' | 'ü' | 'Ù' | 'Ú' | 'Û' | 'Ü' => 'u',
        'ý' | 'ÿ' | 'Ý' => 'y',
        'ß' => {
            out.push_str("ss");
            return;
        }
        'œ' | 'Œ' => {
            out.push_str("oe");
            return;
        }
        'æ' | 'Æ' => {
            out.push_str("ae");
            return;
        }
        other => {
            out.extend(other.to_lowercase());
            return;
        }
    };
    out.push(mapped);
}

/// Splits folded text into sentences: at line breaks, and after `.`, `?` or `!` when the next
/// character is a space or the end (so `v2.1`, `e.g.x` and URLs stay whole). Empty pieces are
/// dropped; each sentence keeps its closing punctuation.
pub fn sentences(folded: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let bytes = folded.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let cut = match b {
            b'\n' => Some(i),
            b'.' | b'?' | b'!' => {
                let mut end = i + 1;
                while end < bytes.len() && matches!(bytes[end], b'.' | b'?' | b'!') {
                    end += 1;
                }
                if end >= bytes.len() || bytes[end] == b' ' || bytes[end] == b'\n' {
                    i = end - 1;
                    Some(end)
                } else {
                    None
                }
            }
            _ => None,
        };
        if let Some(end) = cut {
            push_trimmed(&mut out, &folded[start..end]);
            start = end;
        }
        i += 1;
    }
    push_trimmed(&mut out, &folded[start..]);
    out
}

fn push_trimmed<'a>(out: &mut Vec<&'a str>, piece: &'a str) {
    let piece = piece.trim();
    if !piece.is_empty() {
        out.push(piece);
    }
}

/// The part of `sentence` before byte offset `at` that belongs to the same clause: it starts
/// after the last comma, semicolon, colon, dash or bracket, or after a contrastive
/// conjunction such as "but" or "however".
pub fn clause_before(sentence: &str, at: usize) -> &str {
    let head = &sentence[..at.min(sentence.len())];
    let mut start = 0;
    for (idx, ch) in head.char_indices() {
        if matches!(ch, ',' | ';' | ':' | '(' | ')' | '—' | '–') {
            start = idx + ch.len_utf8();
        }
    }
    for marker in [" - ", " but ", " however ", " though ", " although ", " yet ", " so "] {
        if let Some(pos) = head.rfind(marker) {
            start = start.max(pos + marker.len());
        }
    }
    &head[start..]
}

/// The part of `sentence` from byte offset `at` to the end of its clause (see
/// [`clause_before`] for the boundaries).
pub fn clause_after(sentence: &str, at: usize) -> &str {
    let tail = &sentence[at.min(sentence.len())..];
    let mut end = tail.len();
    for (idx, ch) in tail.char_indices() {
        if matches!(ch, ',' | ';' | ':' | '(' | ')' | '—' | '–') {
            end = idx;
            break;
        }
    }
    for marker in [" - ", " but ", " however ", " though ", " although "] {
        if let Some(pos) = tail.find(marker) {
            end = end.min(pos);
        }
    }
    &tail[..end]
}

/// Number of words (runs of letters or digits) in `text`.
pub fn word_count(text: &str) -> usize {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_lowercases_strips_accents_and_straightens_quotes() {
        assert_eq!(
            fold("Ich MÖCHTE  eine Rückerstattung — I’m “done”"),
            "ich mochte eine ruckerstattung - i'm \"done\""
        );
        assert_eq!(fold("Ça coûte combien ?\r\n\r\nMerci"), "ca coute combien ?\nmerci");
    }

    #[test]
    fn sentences_split_at_terminal_punctuation_and_lines() {
        let folded = fold("Hi. Is v2.1 out?? See app.tallyloom.com\nThanks");
        assert_eq!(sentences(&folded), vec!["hi.", "is v2.1 out??", "see app.tallyloom.com", "thanks"]);
    }

    #[test]
    fn clause_before_stops_at_commas_and_contrast() {
        let s = "we don't need a discount, but how much is pro";
        let at = s.find("how much").unwrap_or(0);
        assert_eq!(clause_before(s, at), "");
        let s = "i'm not asking about cost";
        assert_eq!(clause_before(s, s.len() - 4), "i'm not asking about ");
        assert_eq!(clause_after("cost aside, what is included", 0), "cost aside");
    }
}
