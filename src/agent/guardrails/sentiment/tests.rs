//! Band tests for [`super::score`], following the sentiment table of the escalation rules and
//! the brand voice: below 0.3 escalates, 0.3–0.45 is mild, 0.46–0.65 neutral, 0.66+ positive.

use super::{analyze, score};

fn assert_band(text: &str, low: f32, high: f32) {
    let analysis = analyze(text);
    assert!(
        (low..=high).contains(&analysis.score),
        "{text:?}: score {:.3} not in {low}..={high} (cues {:?})",
        analysis.score,
        analysis.cues
    );
}

const ESCALATE: &[&str] = &[
    "This is RIDICULOUS. Third time your app has eaten my timesheet. Useless.",
    "😡😡",
    "🤬",
    "😠 😤",
    "😭😭😭",
    "This is completely unacceptable, the worst experience I've had with any vendor.",
    "I'm done. Cancel everything.",
    "Fed up with this app logging me out.",
    "Useless. Absolutely useless.",
    "WHY DOES THIS KEEP CRASHING",
    "What the hell is wrong with your sync?",
    "We lost a whole week of entries after your update and I have to explain it to our client.",
    "Honestly this is garbage and a waste of my time.",
    "Third time this week the timer reset, I'm so frustrated.",
    "Your support is a joke, nobody has replied in five days.",
    "Das ist wirklich Scheiße.",
    "Estoy harta, es la tercera vez que pasa.",
];

const MILD: &[&str] = &[
    "Slightly annoyed the reset email never showed up — can you help?",
    "It's a bit annoying that filters reset.",
    "Still not working.",
    "The export is still not working after I cleared the cache.",
    "I'm stuck on step three.",
    "The timer disappeared from my watch face 😕",
    "I binned a task by mistake and it had my notes 😩 any way to get it back?",
    "🙁",
    "I'm really frustrated with the approvals screen.",
    "Kind of worried our hours didn't sync before payroll.",
    "Hola! no me llega el correo 😕 I tried like 3 times already. help pls",
    "Tallyloom is painfully slow on our office network and we have to refresh every time.",
    "Unfortunately the invite email never arrived.",
    "I'm not happy with how the report looks.",
];

const NEUTRAL_TEXTS: &[&str] = &[
    "How do I export a report as CSV?",
    "Our Zaps stopped this morning; Zapier says 401 Unauthorized.",
    "The board doesn't update when I move cards.",
    "Where is the approvals page?",
    "Agent",
    "HUMAN",
    "",
    "🙈",
    "Not bad, just checking how tags work.",
    "Can you confirm the SAML audience value?",
];

const POSITIVE: &[&str] = &[
    "Thanks so much, that fixed it! Love the new timeline view.",
    "👋🙂",
    "🎉🎉",
    "Great product, works perfectly for our team — thank you!",
    "We love the trial so far, it's amazing.",
    "Muchas gracias, ¡es genial!",
];

#[test]
fn strongly_negative_messages_score_below_threshold() {
    for text in ESCALATE {
        assert_band(text, 0.0, 0.2999);
    }
}

#[test]
fn mild_frustration_lands_between_point_three_and_point_four_five() {
    for text in MILD {
        assert_band(text, 0.3, 0.45);
    }
}

#[test]
fn neutral_messages_stay_neutral() {
    for text in NEUTRAL_TEXTS {
        assert_band(text, 0.46, 0.65);
    }
}

#[test]
fn positive_messages_score_high() {
    for text in POSITIVE {
        assert_band(text, 0.66, 1.0);
    }
}

#[test]
fn negation_flips_polarity() {
    assert!(score("not bad at all") > 0.5);
    assert!(score("I'm not happy") < 0.46);
    assert!(score("the sync isn't working") < 0.5);
    assert!(score("the sync is working") >= 0.5);
}

#[test]
fn friendly_emoji_alone_is_at_least_neutral_and_angry_alone_escalates() {
    assert!(score("🙂") >= 0.5);
    assert!(score("👍🏽") >= 0.5);
    assert!(score("😡") < 0.3);
}

#[test]
fn shouting_makes_complaints_worse_but_caps_alone_do_not() {
    assert!(score("my timer was GONE and the report is WRONG") < score("my timer was gone and the report is wrong"));
    assert!(score("HUMAN") >= 0.46);
    assert!(score("SAML SSO with OKTA") >= 0.46);
}

#[test]
fn cues_explain_the_score() {
    let analysis = analyze("3rd time this week. honestly useless");
    assert!(analysis.cues.iter().any(|c| c.contains("repeated failure")), "{:?}", analysis.cues);
    assert!(analysis.cues.iter().any(|c| c.contains("strongly negative")), "{:?}", analysis.cues);
}

#[test]
fn the_trash_feature_is_not_an_insult() {
    for text in [
        "A colleague cleaned up our Trash and used Delete permanently on a project. Can you recover it?",
        "How long do things stay in the trash bin before they're gone?",
        "J'ai vidé la poubelle par erreur, je peux récupérer le projet ?",
    ] {
        assert!(score(text) >= 0.3, "{text}: {}", score(text));
    }
    // A judgement still counts.
    assert!(score("Honestly this app is trash.") < 0.46);
}
