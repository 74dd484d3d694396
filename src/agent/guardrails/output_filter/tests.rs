//! Tests of [`super::check_reply`]: drafted replies that break each rule, replies that must
//! pass (holding replies, ordinary answers), and every paragraph of the knowledge base.

use std::path::PathBuf;

use super::{Violation, check_reply, explain_reply};

const BLOCKED: &[(&str, Violation)] = &[
    ("Pro is €12 per seat per month.", Violation::Price),
    ("The Team plan costs $8/user.", Violation::Price),
    ("That would be 1,200 EUR for the year.", Violation::Price),
    ("It comes to about 30 USD a month.", Violation::Price),
    ("Annual billing is cheaper than monthly.", Violation::Price),
    ("We can offer a 20% discount for charities.", Violation::Price),
    ("Enterprise is priced at £15 per user per month.", Violation::Price),
    ("Pro costs a little more but it's better value.", Violation::Price),
    ("Seats are 9/month each.", Violation::Price),
    ("Guests are free, so adding them is cheaper.", Violation::Price),
    ("Dark mode is coming soon!", Violation::UndocumentedPromise),
    ("A Microsoft Teams integration is on our roadmap.", Violation::UndocumentedPromise),
    ("We'll add custom PDF fonts in a future release.", Violation::UndocumentedPromise),
    ("An Apple Watch app is planned for next year.", Violation::UndocumentedPromise),
    ("We're planning to build a Teams integration.", Violation::UndocumentedPromise),
    ("This will be added in the next version.", Violation::UndocumentedPromise),
    ("We'll refund the duplicate charge today.", Violation::Refund),
    ("You'll get a credit for the unused seats.", Violation::Refund),
    ("A refund is likely in your case.", Violation::Refund),
    ("You should be eligible for a full refund.", Violation::Refund),
    ("I have credited your account with the difference.", Violation::Refund),
    ("I've tagged this as pricing_inquiry.", Violation::InternalDetail),
    ("Your ticket is in the billing queue.", Violation::InternalDetail),
    ("I've passed this to our Tier 2 engineers.", Violation::InternalDetail),
    ("A T2 engineer will take over.", Violation::InternalDetail),
    ("Our routing sends this to Billing.", Violation::InternalDetail),
    ("I've added a note in Zendesk.", Violation::InternalDetail),
    ("Please send us your password so we can check.", Violation::SecretRequest),
    ("Could you reply with the 6-digit code from your app?", Violation::SecretRequest),
    ("What is your API key?", Violation::SecretRequest),
    ("Please share your full card number and CVV.", Violation::SecretRequest),
    ("We need your 2FA code to verify you.", Violation::SecretRequest),
];

const ALLOWED: &[&str] = &[
    "Thanks for asking, Jo. A member of our sales team will contact you about this during our support hours (Mon–Fri, 08:00–20:00 CET).",
    "Thank you for your message. Our billing team will review your request and get back to you within 1 business day.",
    "I have passed it on, and a senior member of our team will respond to you directly during our support hours.",
    "Our Trust & Compliance team will follow up during our support hours (Monday to Friday, 08:00–20:00 CET).",
    "I'm connecting you with a member of our support team. They'll pick this up in this thread.",
    "A specialist will look into this and follow up.",
    "A member of our support team will personally follow up within 8 business hours.",
    "Go to **Settings > Billing > Invoices** and click Download.",
    "That isn't available in Tallyloom today.",
    "Tallyloom staff will never ask for your password.",
    "Type the 6-digit code the app shows to confirm.",
    "Never share your API key; create a new one under **Profile > API keys** if it leaks.",
    "Paste your API key into Zapier when it asks for the connection.",
    "Planned hours show next to logged hours in the Timeline view.",
    "Upgrades take effect immediately and are prorated on your next invoice.",
    "The Pro plan allows up to 300 members; Enterprise adds SAML SSO and SCIM.",
    "Feel free to reply if anything is unclear.",
    "As soon as you save your new password, other sessions are signed out.",
];

#[test]
fn blocked_replies_are_flagged() {
    let mut failures = Vec::new();
    for (reply, violation) in BLOCKED {
        let found = check_reply(reply);
        if !found.contains(violation) {
            failures.push(format!("{reply:?}: expected {violation:?}, got {found:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn holding_replies_and_answers_pass() {
    let failures: Vec<String> = ALLOWED
        .iter()
        .filter_map(|reply| {
            let found = explain_reply(reply);
            (!found.is_empty()).then(|| format!("{reply:?}: {found:?}"))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Knowledge-base paragraphs that really state a price, by file and opening words. None
/// does today: the articles never state prices.
const DOC_PARAGRAPHS_STATING_A_PRICE: &[(&str, &str)] = &[];

fn product_docs_dir() -> Option<PathBuf> {
    Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("context/product-docs"))
}

#[test]
fn knowledge_base_paragraphs_pass_except_real_prices() {
    let Some(dir) = product_docs_dir() else {
        panic!("the repository's context/product-docs is missing");
    };
    let mut entries: Vec<PathBuf> =
        std::fs::read_dir(&dir).map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect()).unwrap_or_default();
    entries.retain(|p| p.extension().is_some_and(|e| e == "md"));
    entries.sort();
    assert!(!entries.is_empty(), "no markdown files in {}", dir.display());
    let (mut paragraphs, mut unexpected) = (0, Vec::new());
    for path in &entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        let body = std::fs::read_to_string(path).unwrap_or_default();
        for paragraph in body.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
            paragraphs += 1;
            let found = explain_reply(paragraph);
            if found.is_empty() {
                continue;
            }
            let known =
                DOC_PARAGRAPHS_STATING_A_PRICE.iter().any(|(f, start)| *f == name && paragraph.starts_with(start));
            println!("flagged {name}: {found:?}: {paragraph:?}");
            if !known || found.iter().any(|(v, _)| *v != Violation::Price) {
                unexpected.push(format!("{name}: {found:?}: {paragraph}"));
            }
        }
    }
    println!("checked {paragraphs} paragraphs in {} files", entries.len());
    assert!(unexpected.is_empty(), "false positives on the knowledge base:\n{}", unexpected.join("\n"));
}
