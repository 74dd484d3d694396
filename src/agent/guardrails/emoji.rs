//! Emoji classification: which emoji read as angry, distressed, sad, friendly or neutral, and
//! whether a message is made of emoji only. Used by the sentiment score and by the
//! "empty or friendly emoji" edge case of the escalation rules.

/// The mood an emoji conveys in a support conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mood {
    /// Anger or contempt: 😠 😡 🤬 👿 💢 😤 🖕 👎.
    Angry,
    /// Strong distress: 😩 😫 😭 😢 😱 😰 😖 😣 💔.
    Distressed,
    /// Mild sadness or worry: 🙁 😕 😞 😔 😟 ☹ 😒 🥺 😓 🤦.
    Sad,
    /// Warm or upbeat: 🙂 😊 😀 👍 👋 🙏 ❤ 🎉 and similar.
    Friendly,
    /// Any other emoji (😅 🙈 🤔 🤷 …): no clear mood.
    Neutral,
}

/// The mood of `ch` if it is an emoji, `None` for any other character.
pub fn mood(ch: char) -> Option<Mood> {
    let mood = match ch {
        '😠' | '😡' | '🤬' | '👿' | '💢' | '😤' | '🖕' | '👎' | '💩' | '😾' => Mood::Angry,
        '😩' | '😫' | '😭' | '😢' | '😱' | '😰' | '😖' | '😣' | '💔' | '😨' | '😧' | '😦' | '😿' => {
            Mood::Distressed
        }
        '🙁' | '😕' | '😞' | '😔' | '😟' | '☹' | '😒' | '🥺' | '😓' | '🤦' | '😥' | '🫤' => {
            Mood::Sad
        }
        '🙂' | '😊' | '😀' | '😃' | '😄' | '😁' | '😆' | '😍' | '🥰' | '🤩' | '😘' | '☺' | '😇' | '😉' | '😎'
        | '🤗' | '🥳' | '👍' | '👋' | '🙏' | '👌' | '👏' | '🙌' | '💪' | '🤝' | '✌' | '❤' | '💙' | '💚' | '💛'
        | '💜' | '🧡' | '🤍' | '💖' | '💯' | '🎉' | '🎊' | '✨' | '🌟' | '⭐' | '🚀' | '✅' | '🔥' | '🌞' | '☀'
        | '🌈' | '😺' | '😸' => Mood::Friendly,
        c if is_pictograph(c) => Mood::Neutral,
        _ => return None,
    };
    Some(mood)
}

/// True for characters in the main emoji and pictograph blocks.
fn is_pictograph(ch: char) -> bool {
    matches!(ch as u32,
        0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0x2B00..=0x2BFF | 0x2300..=0x23FF)
}

/// True for characters that only modify or join emoji: variation selectors, the zero-width
/// joiner, skin-tone modifiers and the keycap mark.
pub fn is_emoji_modifier(ch: char) -> bool {
    matches!(ch as u32, 0xFE0E | 0xFE0F | 0x200D | 0x1F3FB..=0x1F3FF | 0x20E3)
}

/// The moods of every emoji in `text`, in order.
pub fn moods(text: &str) -> Vec<Mood> {
    text.chars().filter_map(mood).collect()
}

/// True when `text` contains at least one emoji and nothing else except whitespace,
/// punctuation and emoji modifiers.
pub fn is_emoji_only(text: &str) -> bool {
    let mut any = false;
    for ch in text.chars() {
        if mood(ch).is_some() {
            any = true;
        } else if !(ch.is_whitespace() || ch.is_ascii_punctuation() || is_emoji_modifier(ch)) {
            return false;
        }
    }
    any
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_common_emoji() {
        assert_eq!(mood('😡'), Some(Mood::Angry));
        assert_eq!(mood('😩'), Some(Mood::Distressed));
        assert_eq!(mood('😕'), Some(Mood::Sad));
        assert_eq!(mood('👋'), Some(Mood::Friendly));
        assert_eq!(mood('🙈'), Some(Mood::Neutral));
        assert_eq!(mood('a'), None);
        assert_eq!(mood('€'), None);
    }

    #[test]
    fn emoji_only_ignores_modifiers_and_punctuation() {
        assert!(is_emoji_only("👍🏽!"));
        assert!(is_emoji_only(" ❤️ "));
        assert!(!is_emoji_only("ok 👍"));
        assert!(!is_emoji_only(""));
        assert!(!is_emoji_only("?!"));
    }
}
