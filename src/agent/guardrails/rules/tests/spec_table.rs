//! Every example row of the tables in `escalation-rules.md` (triggers and near misses), the
//! sentiment-band examples, and the edge cases at the end of the document. `no_knowledge`
//! rows expect no reason from [`check_message`], which cannot see the knowledge base.

use super::super::{Channel, Reason, RuleVerdict, check_message, is_empty_or_friendly_emoji};

use Channel::{Email, Whatsapp as WhatsApp};
use Reason::{
    ComplianceInquiry, HumanRequested, LegalInquiry, NegativeSentiment, NoKnowledge, PricingInquiry, RefundRequest,
};

fn check(channel: Channel, text: &str) -> RuleVerdict {
    check_message(channel, None, text)
}

fn assert_reason(channel: Channel, text: &str, expected: Option<Reason>) {
    let verdict = check(channel, text);
    assert_eq!(verdict.reason, expected, "{text:?} → {verdict:?}");
}

#[test]
fn pricing_table() {
    assert_reason(Email, "What would 40 Pro seats come to for a year?", Some(PricingInquiry));
    assert_reason(Email, "We're a registered charity; do you have a reduced rate?", Some(PricingInquiry));
    assert_reason(Email, "Is SAML SSO an add-on we pay extra for, or part of Enterprise?", Some(PricingInquiry));
    assert_reason(Email, "What does the Pro plan include?", None);
    assert_reason(Email, "If I upgrade in the middle of the month, when do the new features switch on?", None);
}

#[test]
fn refund_table() {
    assert_reason(
        Email,
        "We cancelled last week but the card was charged again — please reverse it.",
        Some(RefundRequest),
    );
    assert_reason(Email, "Can we get a credit for the seats nobody used last quarter?", Some(RefundRequest));
    assert_reason(Email, "I want to return to the previous view.", None);
    assert_reason(Email, "How do I cancel so we aren't billed again next month?", None);
}

#[test]
fn legal_table() {
    assert_reason(Email, "If this isn't fixed by Friday, our attorney will be in touch.", Some(LegalInquiry));
    assert_reason(Email, "I've reported you to the data protection authority over these emails.", Some(LegalInquiry));
    assert_reason(Email, "We're a law firm — how do I give our paralegals read-only access to one matter?", None);
    assert_reason(Email, "How do I delete my own Tallyloom account?", None);
}

#[test]
fn negative_sentiment_table() {
    let verdict = check(Email, "This is RIDICULOUS. Third time your app has eaten my timesheet. Useless.");
    assert_eq!(verdict.reason, Some(NegativeSentiment), "{verdict:?}");
    assert!(verdict.sentiment < 0.3);
    let verdict = check(WhatsApp, "😠😡🤬😤");
    assert_eq!(verdict.reason, Some(NegativeSentiment), "{verdict:?}");
    let verdict = check(Email, "Slightly annoyed the reset email never showed up — can you help?");
    assert_eq!(verdict.reason, None, "{verdict:?}");
    assert!((0.3..=0.45).contains(&verdict.sentiment), "{verdict:?}");
    assert!(verdict.needs_empathy());
}

#[test]
fn sentiment_band_signals() {
    for text in ["It's a bit annoying.", "Still not working.", "I'm stuck.", "The sync failed 🙁"] {
        let verdict = check(Email, text);
        assert_eq!(verdict.reason, None, "{text:?} → {verdict:?}");
        assert!((0.3..=0.45).contains(&verdict.sentiment), "{text:?} → {verdict:?}");
    }
    for text in ["Unacceptable.", "Worst tool ever.", "I'm fed up.", "I'm done.", "Useless!"] {
        assert_reason(Email, text, Some(NegativeSentiment));
    }
    let verdict = check(Email, "How do I add a tag?");
    assert!((0.46..=0.65).contains(&verdict.sentiment), "{verdict:?}");
    let verdict = check(Email, "Thank you, this is great!");
    assert!(verdict.sentiment >= 0.66, "{verdict:?}");
}

#[test]
fn human_table() {
    assert_reason(WhatsApp, "HUMAN", Some(HumanRequested));
    assert_reason(Email, "I'd rather talk this through with someone on your team.", Some(HumanRequested));
    assert_reason(Email, "Am I chatting with a bot? Anyway, where do I change my password?", None);
    assert_reason(Email, "Our human resources team needs its own private project.", None);
}

#[test]
fn no_knowledge_table_is_not_decided_here() {
    assert_reason(Email, "Can Tallyloom post project updates into Microsoft Teams?", None);
    assert_reason(Email, "Can I change the font used in PDF exports?", None);
    assert_reason(Email, "Can I bring my old Trello cards across?", None);
}

#[test]
fn compliance_table() {
    assert_reason(Email, "Could you share your SOC 2 Type II report under NDA?", Some(ComplianceInquiry));
    assert_reason(Email, "Please complete the attached vendor risk questionnaire.", Some(ComplianceInquiry));
    assert_reason(Email, "If we pick the EU option, which country is our data stored in?", None);
}

#[test]
fn gdpr_wording() {
    assert_reason(Email, "I am filing a complaint under GDPR about your marketing emails.", Some(LegalInquiry));
    assert_reason(Email, "Under Article 17 GDPR I demand that you erase my data.", Some(LegalInquiry));
    assert_reason(Email, "Are you GDPR compliant?", Some(ComplianceInquiry));
    assert_reason(Email, "Can you send us your DPA?", Some(ComplianceInquiry));
}

#[test]
fn edge_cases() {
    assert!(is_empty_or_friendly_emoji(""));
    assert!(is_empty_or_friendly_emoji("   "));
    assert!(is_empty_or_friendly_emoji("👋🙂"));
    assert!(is_empty_or_friendly_emoji("👍🏽!"));
    assert!(!is_empty_or_friendly_emoji("😡"));
    assert!(!is_empty_or_friendly_emoji("hi 🙂"));
    assert_reason(WhatsApp, "", None);
    assert_reason(WhatsApp, "🙂", None);
    assert_reason(WhatsApp, "😡😡", Some(NegativeSentiment));
    assert_reason(WhatsApp, "😭😭", Some(NegativeSentiment));
    // Mixed languages: every rule applies to every part.
    assert_reason(WhatsApp, "Hola! how do I export? Y quiero un reembolso del mes pasado.", Some(RefundRequest));
    assert_reason(Email, "Bonjour, quel est le prix du plan Pro? Thanks!", Some(PricingInquiry));
    // A question plus a trigger: the trigger wins.
    assert_reason(
        Email,
        "How do I add a tag to a task? Also we were charged twice this month and want the money back.",
        Some(RefundRequest),
    );
}

#[test]
fn multiple_triggers_take_the_highest_priority() {
    let verdict = check(
        Email,
        "Our lawyer will be in touch unless you refund us, and send me a quote for 50 seats. Let me talk to a manager.",
    );
    assert_eq!(verdict.reason, Some(LegalInquiry), "{verdict:?}");
    assert!(verdict.matched.iter().any(|m| m.starts_with("refund:")), "{verdict:?}");
    assert!(verdict.matched.iter().any(|m| m.starts_with("pricing:")), "{verdict:?}");
    assert!(verdict.matched.iter().any(|m| m.starts_with("human:")), "{verdict:?}");
    assert_reason(Email, "Send your SOC 2 report and a quote please.", Some(ComplianceInquiry));
    assert_reason(Email, "Can I get a refund and a discount on renewal?", Some(RefundRequest));
    assert_reason(WhatsApp, "how much is Pro? also can I talk to a human", Some(PricingInquiry));
}

#[test]
fn a_trigger_at_the_end_of_a_long_message_counts() {
    let mut text = String::from("Hi team, ");
    for _ in 0..40 {
        text.push_str("We use boards, timesheets and reports every day and the team likes them. ");
    }
    text.push_str("One last thing: could you send over a quote for 30 more seats?");
    assert_reason(Email, &text, Some(PricingInquiry));
}

#[test]
fn reason_codes_and_priority() {
    assert_eq!(Reason::LegalInquiry.as_str(), "legal_inquiry");
    assert_eq!(Reason::NoKnowledge.as_str(), "no_knowledge");
    assert_eq!(Reason::parse("pricing_inquiry"), Some(PricingInquiry));
    assert_eq!(Reason::parse("other"), None);
    assert_eq!(
        Reason::ALL[..7],
        [
            LegalInquiry,
            ComplianceInquiry,
            RefundRequest,
            PricingInquiry,
            HumanRequested,
            NegativeSentiment,
            NoKnowledge
        ]
    );
    assert!(Reason::LegalInquiry < Reason::ComplianceInquiry && Reason::NegativeSentiment < Reason::NoKnowledge);
}
