//! Unseen-style sentences, written independently of the sample tickets. The per-reason
//! tables hold at least fifteen triggers and fifteen near misses for each reason that
//! [`check_message`] decides, written before the detectors; `HELD_OUT` holds two later
//! batches written after a first run, to measure how the patterns generalise. They exercise
//! paraphrase, other languages, long messages and channel-specific rules.

use super::super::{Channel, Reason, check_message};

use super::extra_held_out::HELD_OUT;
use Channel::{Email, Slack, Webform as WebForm, Whatsapp as WhatsApp};
use Reason::{ComplianceInquiry, HumanRequested, LegalInquiry, NegativeSentiment, PricingInquiry, RefundRequest};

pub(super) type Case = (Channel, &'static str, Option<Reason>);

const PRICING: &[Case] = &[
    (
        Slack,
        "Finance wants to know whether our per-seat rate will change at renewal, and whether we can lock the current rate in.",
        Some(PricingInquiry),
    ),
    (WebForm, "Still paying for 12 seats\nThree people left. How do I bring the number down, and from when?", None),
    (Email, "Our API rate will change how we batch the nightly sync: what is the limit on Pro?", None),
    (Email, "Roughly what would we pay per month if we moved 25 people onto Pro?", Some(PricingInquiry)),
    (WebForm, "Do you have startup pricing? We're pre-seed and the budget is tight.", Some(PricingInquiry)),
    (Email, "Is there an education discount for universities?", Some(PricingInquiry)),
    (WhatsApp, "Our trial runs out tomorrow, could we get another week to finish evaluating it?", Some(PricingInquiry)),
    (Slack, "If we commit to two years, can you lock in today's rate?", Some(PricingInquiry)),
    (Slack, "Is the Australia data region something we pay extra for on Enterprise?", Some(PricingInquiry)),
    (Email, "A competitor offered us a better deal — can you match it?", Some(PricingInquiry)),
    (Email, "Can you put together a quote for 75 Enterprise seats?", Some(PricingInquiry)),
    (Slack, "Will your prices go up at our renewal next spring?", Some(PricingInquiry)),
    (WebForm, "Which plan is the better value for a 12-person agency?", Some(PricingInquiry)),
    (WhatsApp, "How much would it be to add ten more seats to our Team plan?", Some(PricingInquiry)),
    (WhatsApp, "¿Cuánto cuesta el plan Pro para 15 usuarios?", Some(PricingInquiry)),
    (WhatsApp, "Qual é o preço do plano Team por usuário?", Some(PricingInquiry)),
    (Email, "Est-ce que vous faites une remise pour les associations ?", Some(PricingInquiry)),
    (Email, "Was kostet Enterprise für 200 Nutzer im Jahr?", Some(PricingInquiry)),
    (WebForm, "We're a non-profit food bank — are there any special rates?", Some(PricingInquiry)),
    (WhatsApp, "Is annual billing cheaper than paying monthly?", Some(PricingInquiry)),
    (
        Email,
        "Hi! Love the product so far. We've set up three projects, invited the team and connected Slack. \
         Quick one before we decide: does adding guests cost anything?",
        Some(PricingInquiry),
    ),
    (WebForm, "What's the member limit on the Team plan?", None),
    (Email, "How do I switch our workspace from monthly to annual billing?", None),
    (Email, "Where can I download last month's invoice as a PDF?", None),
    (WhatsApp, "Our card expired — how do I update the payment method?", None),
    (WebForm, "If I downgrade from Pro to Team, when does the change happen?", None),
    (Email, "How does proration work when I add seats mid-cycle?", None),
    (WhatsApp, "Does the Starter plan include Google Calendar sync?", None),
    (Slack, "What's the API rate limit per minute on Pro?", None),
    (WebForm, "How do I mark time entries as billable?", None),
    (Email, "Can I set an hourly rate for a client project?", None),
    (WhatsApp, "Do guests take up a seat?", None),
    (WebForm, "How long is the trial, and what happens to our data when it ends?", None),
    (Slack, "We track project costs in a custom field — can I total it in reports?", None),
    (Email, "How do I remove seats we no longer need?", None),
    (Email, "Which plan do we need for 60 members?", None),
    (Slack, "Who on our team can see the billing page?", None),
    (WebForm, "Is the timesheet approval feature part of Pro?", None),
];

const REFUND: &[Case] = &[
    (Email, "We were charged twice for March, please refund the duplicate.", Some(RefundRequest)),
    (
        Email,
        "I cancelled in January but you still took a payment in February. I want that money returned.",
        Some(RefundRequest),
    ),
    (WebForm, "Please issue a credit note for the five seats we removed last week.", Some(RefundRequest)),
    (Slack, "After the outage on Tuesday we expect a service credit under our SLA.", Some(RefundRequest)),
    (WhatsApp, "Can you reverse the annual charge? I meant to pick monthly.", Some(RefundRequest)),
    (WhatsApp, "I'd like my money back for the unused months.", Some(RefundRequest)),
    (
        Email,
        "Our bank flagged this as an unauthorised transaction, please reverse it or we will file a chargeback.",
        Some(RefundRequest),
    ),
    (
        Email,
        "We've been paying for 12 seats but only 8 people ever used them. Can we get reimbursed?",
        Some(RefundRequest),
    ),
    (WebForm, "The invoice overcharged us by three seats — we'd like the difference credited.", Some(RefundRequest)),
    (WhatsApp, "Quiero un reembolso, me cobraron dos veces.", Some(RefundRequest)),
    (Email, "Gostaria de pedir o reembolso da última fatura.", Some(RefundRequest)),
    (Email, "Je souhaite être remboursé pour le mois de mars.", Some(RefundRequest)),
    (Email, "Bitte um Rückerstattung der doppelten Abbuchung.", Some(RefundRequest)),
    (
        Slack,
        "You billed us for users who were deactivated in January. Please fix that and credit our account.",
        Some(RefundRequest),
    ),
    (WebForm, "Is it possible to get a partial refund if we downgrade mid-year?", Some(RefundRequest)),
    (
        Email,
        "Hello, quick question about exports: where do I find CSV export for reports? Also, we were billed after \
         cancelling our subscription, so please send back that payment.",
        Some(RefundRequest),
    ),
    (WebForm, "How do I get back to the board view after opening a task?", None),
    (WhatsApp, "I deleted a project by accident — can I get it back?", None),
    (Slack, "Can I revert an import I ran this morning?", None),
    (Email, "How do I cancel our subscription at the end of the month?", None),
    (Email, "Where do I find the receipt for our last payment?", None),
    (WebForm, "My payment failed, how do I retry it with a new card?", None),
    (Slack, "How do I return a task to the previous section?", None),
    (WhatsApp, "Can I undo the last change to my timesheet?", None),
    (Email, "Will we be billed again next month if we cancel today?", None),
    (WhatsApp, "Which credit cards do you accept?", None),
    (Email, "Can we pay by bank transfer instead of credit card?", None),
    (Slack, "How do I reverse the sort order in the list view?", None),
    (Slack, "Who gets credited as the author when a task is duplicated?", None),
    (WebForm, "Does cancelling delete any of our data?", None),
    (WhatsApp, "A rejected week came back to me — how do I resubmit it?", None),
    (Slack, "How do I roll back a webhook secret?", None),
];

const LEGAL: &[Case] = &[
    (Email, "If the data isn't restored by Monday we will be taking legal action.", Some(LegalInquiry)),
    (
        Email,
        "Our solicitor has advised us to put our complaint in writing; consider this formal notice.",
        Some(LegalInquiry),
    ),
    (WhatsApp, "I'm going to sue you for the hours we lost.", Some(LegalInquiry)),
    (Email, "We have received a subpoena requesting records from our workspace; who handles this?", Some(LegalInquiry)),
    (
        Email,
        "This is a police request for account information relating to an ongoing investigation.",
        Some(LegalInquiry),
    ),
    (Email, "I am a detective constable; we hold a production order for this user's records.", Some(LegalInquiry)),
    (
        Email,
        "Under Article 15 GDPR I request a copy of all personal data you hold about me within one month.",
        Some(LegalInquiry),
    ),
    (WebForm, "I have lodged a complaint with the ICO about how you handled my data.", Some(LegalInquiry)),
    (
        Slack,
        "Our legal department needs to amend the limitation of liability clause before we sign.",
        Some(LegalInquiry),
    ),
    (Email, "Please send your indemnity terms to our counsel for review.", Some(LegalInquiry)),
    (WhatsApp, "I'll see you in small claims court.", Some(LegalInquiry)),
    (Email, "Exercising my right to erasure: delete every trace of me from your systems.", Some(LegalInquiry)),
    (Email, "Voy a presentar una demanda contra ustedes si no lo resuelven.", Some(LegalInquiry)),
    (Email, "Nosso advogado vai entrar em contato sobre o contrato.", Some(LegalInquiry)),
    (Email, "Nous allons engager une action en justice.", Some(LegalInquiry)),
    (Email, "Wir werden rechtliche Schritte einleiten.", Some(LegalInquiry)),
    (
        Email,
        "Your ToS says data is kept for 30 days but you deleted it in 10 — that's a breach of contract.",
        Some(LegalInquiry),
    ),
    (WebForm, "We're a small law firm; can I group projects by client matter?", None),
    (Slack, "Our legal team's project board is too cluttered, how do I hide completed tasks?", None),
    (Email, "How do I delete my personal account and all my data?", None),
    (WebForm, "We book tennis courts for coaching sessions; can I track time per court?", None),
    (Email, "Can I give our attorneys guest access to one project only?", None),
    (Slack, "The Legal workspace should only be visible to three people, how?", None),
    (Email, "How long do you keep data after we close the workspace?", None),
    (WebForm, "Which role can approve timesheets for our paralegals?", None),
    (Email, "We bill clients per case — can reports be filtered by tag?", None),
    (Slack, "Our counsel's hours need to be tracked as billable; how do I set that default?", None),
    (Email, "How do I export everything before we close our account?", None),
    (WebForm, "Is there a contract template in the project templates?", None),
    (Slack, "The court reporter team wants a shared calendar view.", None),
    (Email, "Can the Owner transfer ownership to another admin?", None),
    (Email, "Our compliance officer wants to know how to export the audit log.", None),
    (Slack, "Sue from accounting can't see the reports tab.", None),
];

const COMPLIANCE: &[Case] = &[
    (Email, "Can you send us your latest SOC 2 Type I report?", Some(ComplianceInquiry)),
    (Email, "We need your sub-processor list before procurement signs off.", Some(ComplianceInquiry)),
    (WebForm, "Please sign our data processing agreement and return it.", Some(ComplianceInquiry)),
    (WhatsApp, "Is Tallyloom GDPR compliant?", Some(ComplianceInquiry)),
    (Slack, "Our security team sent over a SIG Lite questionnaire — who can fill it in?", Some(ComplianceInquiry)),
    (Email, "Do you hold ISO 27001 certification?", Some(ComplianceInquiry)),
    (Email, "Could we see the executive summary of your most recent penetration test?", Some(ComplianceInquiry)),
    (WebForm, "Will you sign a BAA? We handle patient data.", Some(ComplianceInquiry)),
    (Slack, "We need to complete a vendor risk assessment for Tallyloom before renewal.", Some(ComplianceInquiry)),
    (Email, "Do you comply with CCPA for our California staff?", Some(ComplianceInquiry)),
    (Email, "Are you PCI DSS certified?", Some(ComplianceInquiry)),
    (Email, "¿Tienen un acuerdo de procesamiento de datos (DPA) que podamos firmar?", Some(ComplianceInquiry)),
    (WhatsApp, "Vocês têm certificação ISO 27001?", Some(ComplianceInquiry)),
    (Email, "Pouvez-vous nous envoyer la liste de vos sous-traitants ?", Some(ComplianceInquiry)),
    (Email, "Wir brauchen einen AVV nach DSGVO.", Some(ComplianceInquiry)),
    (Email, "Our auditors want the CAIQ filled in by end of month.", Some(ComplianceInquiry)),
    (WebForm, "Is our data encrypted at rest?", None),
    (Email, "Where are the servers for the US region?", None),
    (Slack, "How often do you back up our workspace?", None),
    (Slack, "How do I turn on 2FA for everyone?", None),
    (Slack, "Can I export the audit log as CSV?", None),
    (Email, "How long does a session last before I'm signed out?", None),
    (Email, "How do I set up SAML SSO with Okta?", None),
    (Slack, "Our SAML signing certificate expires next week — where do I upload the new one?", None),
    (WebForm, "Can we move our workspace to the EU region?", None),
    (WhatsApp, "Who can see our time entries?", None),
    (Email, "Where do I report a security vulnerability?", None),
    (Slack, "Do you support SCIM provisioning with Entra ID?", None),
    (WebForm, "Is there an audit trail of who changed a task?", None),
    (Slack, "Can I restrict sign-in to our company domain?", None),
    (Email, "How do I delete a former employee's personal data?", None),
];

const HUMAN: &[Case] = &[
    (Email, "Can I talk to a real person about this?", Some(HumanRequested)),
    (WebForm, "Please put me through to someone on your support team.", Some(HumanRequested)),
    (WhatsApp, "I want to speak with a manager.", Some(HumanRequested)),
    (Slack, "Could our CSM give us a call this week?", Some(HumanRequested)),
    (Email, "I'd like to book a call to walk through our setup.", Some(HumanRequested)),
    (WhatsApp, "Get me a human please.", Some(HumanRequested)),
    (Slack, "Could someone from your team talk it through with us before we restructure?", Some(HumanRequested)),
    (WhatsApp, "agent!!", Some(HumanRequested)),
    (WhatsApp, "Human please", Some(HumanRequested)),
    (WhatsApp, "  AGENT. ", Some(HumanRequested)),
    (Slack, "Is there someone at Tallyloom I can chat with directly?", Some(HumanRequested)),
    (WhatsApp, "Stop sending me bot answers, I need an actual human.", Some(HumanRequested)),
    (Email, "Can someone from your team call me back on +44 20 7946 0000?", Some(HumanRequested)),
    (WhatsApp, "Quiero hablar con una persona, por favor.", Some(HumanRequested)),
    (WhatsApp, "Posso falar com um atendente humano?", Some(HumanRequested)),
    (Email, "Je voudrais parler à un conseiller.", Some(HumanRequested)),
    (Email, "Ich möchte bitte mit einem Mitarbeiter sprechen.", Some(HumanRequested)),
    (Slack, "Please escalate this to your support staff, I've explained it enough.", Some(HumanRequested)),
    (WhatsApp, "Are you a bot or a person?", None),
    (WhatsApp, "Is this an AI? Either way, how do I add a subtask?", None),
    (Email, "Our support agents need their own project for ticket follow-ups.", None),
    (WebForm, "The human resources team wants a private workspace.", None),
    (Email, "My manager rejected my timesheet, how do I fix it?", None),
    (Slack, "How do I transfer a task to someone else?", None),
    (Slack, "Can a project manager change the default view?", None),
    (WhatsApp, "How do I mention someone in a comment?", None),
    (WhatsApp, "agent permissions for our helpdesk project?", None),
    (Email, "Human", None),
    (WhatsApp, "I have a client call in ten minutes and the timer won't start.", None),
    (Email, "Can I schedule a recurring meeting task every Monday?", None),
    (Slack, "Who is the account owner on our workspace?", None),
    (WhatsApp, "Can I talk to my team inside Tallyloom, like a chat?", None),
    (Email, "How do guests contact the project manager?", None),
    (Slack, "Is the person who built our Zaps still the key owner?", None),
];

const NEGATIVE: &[Case] = &[
    (WhatsApp, "This app is a complete joke. Nothing syncs.", Some(NegativeSentiment)),
    (WhatsApp, "😡😡😡", Some(NegativeSentiment)),
    (Email, "I'M SO SICK OF THIS. THE TIMER RESET AGAIN.", Some(NegativeSentiment)),
    (WebForm, "Worst update ever, you broke timesheets for everyone.", Some(NegativeSentiment)),
    (Email, "Absolutely useless support, nobody answers.", Some(NegativeSentiment)),
    (Email, "I've lost two days of entries and nobody cares. Fed up.", Some(NegativeSentiment)),
    (WhatsApp, "What the hell happened to my reports?? This is garbage.", Some(NegativeSentiment)),
    (Slack, "I'm done with Tallyloom. Fourth crash today.", Some(NegativeSentiment)),
    (WhatsApp, "Honestly pathetic. The mobile app logs me out every single time.", Some(NegativeSentiment)),
    (Email, "This is a disaster, our whole team's hours have vanished before payroll.", Some(NegativeSentiment)),
    (Email, "Es inaceptable, el peor servicio que he usado.", Some(NegativeSentiment)),
    (WhatsApp, "Isso é um lixo, não funciona nada.", Some(NegativeSentiment)),
    (Email, "C'est nul, ça plante encore une fois.", Some(NegativeSentiment)),
    (Email, "Das ist absolut inakzeptabel!", Some(NegativeSentiment)),
    (WhatsApp, "🤬", Some(NegativeSentiment)),
    (Slack, "Why does this keep breaking?! Ridiculous.", Some(NegativeSentiment)),
    (WebForm, "Your product is terrible and I regret paying for it.", Some(NegativeSentiment)),
    (WhatsApp, "Slightly annoying that the timer doesn't show on my watch face, but fine.", None),
    (Email, "Still not working after clearing the cache — what next?", None),
    (Slack, "I'm stuck on the SSO setup step.", None),
    (WhatsApp, "The export is a bit slow today 🙁", None),
    (WhatsApp, "Not bad at all, just wondering how to add tags.", None),
    (Email, "I'm a little worried our hours didn't sync.", None),
    (WebForm, "Kind of frustrating that filters reset, is there a way to keep them?", None),
    (WhatsApp, "Hmm, the calendar sync isn't working for me 😕", None),
    (Slack, "Bit confused by the approvals screen — who approves what?", None),
    (Email, "I tried twice and the invite email never arrived.", None),
    (WhatsApp, "👍", None),
    (WebForm, "", None),
    (WhatsApp, "Thanks so much, that fixed it!", None),
    (Email, "No problem at all, I'll try that tomorrow.", None),
    (WhatsApp, "Argh, forgot to stop my timer again, how do I fix the entry?", None),
    (WebForm, "The page won't load on Safari, any idea?", None),
];

/// Every table, with its name for the report.
const TABLES: &[(&str, &[Case])] = &[
    ("pricing", PRICING),
    ("refund", REFUND),
    ("legal", LEGAL),
    ("compliance", COMPLIANCE),
    ("human", HUMAN),
    ("negative", NEGATIVE),
    ("held-out", HELD_OUT),
];

#[test]
fn extra_sentences_each_reason_has_fifteen_triggers_and_fifteen_near_misses() {
    for (name, cases) in TABLES.iter().filter(|(name, _)| *name != "held-out") {
        let triggers = cases.iter().filter(|c| c.2.is_some()).count();
        let near_misses = cases.len() - triggers;
        assert!(triggers >= 15 && near_misses >= 15, "{name}: {triggers} triggers, {near_misses} near misses");
    }
}

#[test]
fn extra_sentences_are_decided_by_intent() {
    let mut failures = Vec::new();
    let mut total = 0;
    for (name, cases) in TABLES {
        let mut ok = 0;
        for (channel, text, expected) in cases.iter() {
            let verdict = check_message(*channel, None, text);
            if verdict.reason == *expected {
                ok += 1;
            } else {
                failures.push(format!(
                    "  [{name}] {channel:?} {text:?}: expected {expected:?}, got {:?} (sentiment {:.2}, {:?})",
                    verdict.reason, verdict.sentiment, verdict.matched
                ));
            }
        }
        total += cases.len();
        println!("extra {name}: {ok}/{}", cases.len());
    }
    println!("extra total: {}/{total}", total - failures.len());
    assert!(failures.is_empty(), "{} extra sentences decided wrongly:\n{}", failures.len(), failures.join("\n"));
}
