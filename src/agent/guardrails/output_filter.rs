//! The last check on a drafted reply before it is sent: [`check_reply`] reports every
//! "Never" of the escalation rules the draft breaks — a price or cost talk, a promise of an
//! undocumented feature, a refund or credit promised or estimated, an internal detail
//! (reason codes, queues, tiers, routing, internal tools and roles) or a request for a
//! password, 2FA code, API key or full card number. Holding replies ("our billing team will
//! review your request") and knowledge-base passages pass.

use super::pattern::{Hit, Pat, Rule, evidence};
use super::text::{fold, sentences};

/// A rule a drafted reply breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Violation {
    /// States, estimates or compares a price, or talks discounts.
    Price,
    /// Promises a feature that is not documented ("coming soon", "on our roadmap").
    UndocumentedPromise,
    /// Promises, approves or estimates a refund or credit.
    Refund,
    /// Shares internal details: reason codes, queues, tiers, routing, internal tools.
    InternalDetail,
    /// Asks for a password, 2FA code, API key or full card number.
    SecretRequest,
}

impl Violation {
    /// Snake_case code, for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Violation::Price => "price",
            Violation::UndocumentedPromise => "undocumented_promise",
            Violation::Refund => "refund",
            Violation::InternalDetail => "internal_detail",
            Violation::SecretRequest => "secret_request",
        }
    }
}

/// The rules a drafted reply breaks, each at most once, in declaration order.
pub fn check_reply(reply: &str) -> Vec<Violation> {
    let mut found: Vec<Violation> = explain_reply(reply).into_iter().map(|(violation, _)| violation).collect();
    found.dedup();
    found
}

/// Like [`check_reply`], with the evidence of every rule that fired.
pub fn explain_reply(reply: &str) -> Vec<(Violation, &'static str)> {
    let folded = fold(reply);
    let parts = sentences(&folded);
    let tables: [(Violation, &[Rule]); 5] = [
        (Violation::Price, &PRICE),
        (Violation::UndocumentedPromise, &PROMISE),
        (Violation::Refund, &REFUND),
        (Violation::InternalDetail, &INTERNAL),
        (Violation::SecretRequest, &SECRET),
    ];
    tables
        .into_iter()
        .flat_map(|(violation, rules)| evidence(rules, &parts).into_iter().map(move |label| (violation, label)))
        .collect()
}

/// A per-seat or per-user wording counts as a price next to a number.
fn has_number(hit: &Hit<'_>) -> bool {
    hit.window.chars().any(|c| c.is_ascii_digit())
}

/// "Planned" about Tallyloom's plans, not planned hours or dates.
fn not_planned_work(hit: &Hit<'_>) -> bool {
    !PLANNED_WORK.is_match(&hit.window[hit.end..])
}

static PLANNED_WORK: Pat =
    Pat::new(r"^\s*(?:hours|time|work|dates?|duration|start|end|effort|vs|versus|budget|capacity|tasks?)\b");

/// A request for a secret, not "never share your password" or "paste the key into Zapier".
fn asks_customer(hit: &Hit<'_>) -> bool {
    !NEVER.is_match(hit.before()) && !INTO_TOOL.is_match(&hit.window[hit.end..])
}

static NEVER: Pat = Pat::new(
    r"\b(?:never|don't|do not|not|won't|will never|shouldn't|should not|no need to|nobody|no one|can't|cannot|avoid)\b|n't\b",
);
static INTO_TOOL: Pat = Pat::new(
    r"^\s*(?:to|in|into|with|on)\s+(?:zapier|the (?:app|integration|connection|field|form|dialog|page|header)|your (?:idp|identity provider|script|integration|client|tool|server|code|authenticator)|anyone|a colleague|others)\b",
);

macro_rules! secret {
    () => {
        r"(?:password|passwords|passcode|passphrase|2fa (?:code|codes)|two[- ]factor (?:code|codes|authentication code)|verification code|security code|one[- ]time (?:code|password|passcode)|otp|\d[- ]digit code|six[- ]digit code|authenticator code|backup codes?|recovery codes?|api (?:key|keys|token|tokens)|secret key|access token|personal access token|webhook secret|signing secret|scim token|bearer token|card number|credit card number|full card|card details|cvv|cvc|login credentials|credentials)\b"
    };
}

static PRICE: [Rule; 4] = [
    Rule::new(
        "price: currency amount",
        r"[€$£¥]\s?\d|\d[\d,.]*\s?(?:€|\$|£|¥)|\b\d[\d,.]*\s?(?:eur|euros?|usd|dollars?|gbp|pounds|chf|cad|aud|nzd|sek|nok|dkk|pln|brl|reais|inr)\b|\b(?:eur|usd|gbp|cad|aud|chf|us\$|ca\$|a\$|r\$)\s?\d",
    ),
    Rule::new(
        "price: per-seat or per-month price",
        r"\bper (?:seat|user|member|licen[cs]e) (?:per|a) (?:month|year)\b|\d[\d,.]*\s*/\s*(?:seat|user|member|month|mo|year|yr|annum)\b|\ba (?:seat|user) (?:a|per) (?:month|year)\b",
    ),
    Rule::new("price: price per seat or user with a number", r"\bper (?:seat|user|member|licen[cs]e)\b")
        .guarded(has_number),
    Rule::new(
        "price: talks cost, value or discounts",
        r"\bcosts?\b|\bcosting\b|\bcheap(?:er|est)?\b|\b(?:less |more |too )?expensive\b|\bbetter value\b|\bbest value\b|\bvalue for money\b|\bdiscount\w*|\bfree of charge\b|\bfor free\b|\b(?:is|are|it's|stays?) free\b|\bfree (?:plan|tier|seats?|version)\b|\bat no (?:extra |additional )?(?:cost|charge)\b|\bpriced at\b|\b\d+\s?% off\b|\b(?:good|great|special|better) deal\b|\bprice[sd]?\b[^.]{0,30}\d|\b(?:the|its|our|a|your) price (?:is|of|for|will|would|was)\b",
    ),
];

static PROMISE: [Rule; 3] = [
    Rule::new(
        "promise: coming soon, roadmap or future release",
        r"\bcoming soon\b|\b(?:on|in) (?:our|the) (?:product )?roadmap\b|\bour roadmap\b|\broadmap item\b|\b(?:in|with) (?:a|an|the) (?:future|upcoming|next|later|coming) (?:release|update|version)\b|\b(?:upcoming|future) (?:feature|release|update|version)s?\b|\bnext (?:release|version|quarter)\b|\bin the works\b|\b(?:in|under) development\b|\bbeing (?:built|developed)\b|\bwill (?:soon )?be (?:added|released|launched|introduced|rolled out)\b|\bwill be available (?:soon|later|in (?:a|the) (?:future|next|coming))\b|\b(?:available|released|added|supported|launching|arriving|ready) soon\b|\bsoon to be\b",
    ),
    Rule::new(
        "promise: says Tallyloom will add or build something",
        r"\bwe(?:'ll| will| are going to|'re going to| plan to| intend to| hope to| are planning to|'re planning to| aim to| expect to)\s+(?:\w+\s+)?(?:add|adding|build|building|release|releasing|launch|launching|introduce|introducing|ship|shipping|implement|implementing|bring|bringing|roll(?:ing)? out|develop|developing|support for)\b|\bwe(?:'re| are) working on (?:it|this|that|adding|support|a feature|the feature)\b",
    ),
    Rule::new(
        "promise: says a feature is planned",
        r"\b(?:is|are|it's|currently|already|been|was)\s+planned\b|\bplanned (?:for|feature|features|release|update|updates|improvement|improvements|later|in (?:a|the|q\d))\b",
    )
    .guarded(not_planned_work),
];

static REFUND: [Rule; 4] = [
    Rule::new(
        "refund: promises to refund or credit",
        r"\b(?:we|i)(?:'ll| will| can| could| are going to|'re going to| would be happy to| have| 've|'ve| shall| am going to|'m going to)\s+(?:\w+\s+)?(?:refund|refunded|credit|credited|reimburse|reimbursed|reverse|reversed|waive|waived|issue (?:a |you a |the )?(?:refund|credit))\b",
    ),
    Rule::new(
        "refund: tells the customer they will get money back",
        r"\byou(?:'ll| will| should| would| could| may| might|'d)\s+(?:\w+\s+){0,2}?(?:get|receive|be given|see|be refunded|be credited|be reimbursed|be eligible|qualify)\b[^.]{0,30}\b(?:refund|credit|money back|reimburse\w*)|\byou(?:'ll| will| should| would| may| might)\s+be (?:refunded|credited|reimbursed)\b",
    ),
    Rule::new(
        "refund: estimates whether a refund is likely",
        r"\b(?:refund|credit|reimbursement)s?\s+(?:is|are|will be|would be|should be|has been|have been|was|looks)\s+(?:very\s+)?(?:likely|probably|possible|approved|granted|guaranteed|processed|issued|on (?:its|the) way|coming|given|certain)\b|\b(?:likely|probably|eligible|entitled|qualify|qualifies|should get|will get|can get)\b[^.]{0,25}\b(?:refund|credit|reimbursement|money back)\b",
    ),
    Rule::new("refund: promises money back", r"\b(?:your|the) money back\b"),
];

static INTERNAL: [Rule; 5] = [
    Rule::new(
        "internal: reason code",
        r"\b(?:legal_inquiry|compliance_inquiry|refund_request|pricing_inquiry|human_requested|negative_sentiment|no_knowledge)\b|\breason codes?\b|\bescalation (?:reason|code|category|queue)\b",
    ),
    Rule::new(
        "internal: queue, tier or routing",
        r"\bqueues?\b|\btier[- ]?(?:1|2|3|one|two|three|i|ii|iii)\b|\bt[123]\b|\bl[123] support\b|\b(?:first|second|third)[- ]line (?:support|team)\b|\brouting\b|\brouted\b|\broute (?:it|this|your (?:request|ticket|case|message))\b",
    ),
    Rule::new(
        "internal: internal tool or system",
        r"\b(?:zendesk|freshdesk|intercom|help ?scout|salesforce|hubspot|servicenow|kustomer|gorgias|pagerduty|opsgenie|jira service (?:desk|management)|retool|metabase|datadog|sentry|grafana|kibana|admin panel|back ?office|backoffice)\b|\binternal (?:tool|tools|dashboard|system|systems|notes?|ticket|wiki|process|routing|team|channel)\b",
    ),
    Rule::new(
        "internal: internal role",
        r"\b(?:support team lead|technical support engineers?|billing specialists?|account executives?|head of customer success|on-call engineer)\b|\bour (?:legal counsel|legal team|lawyers?|attorneys?)\b",
    ),
    Rule::new(
        "internal: mentions being escalated by code or category",
        r"\bflagged (?:as|with) (?:a |an )?(?:pricing|refund|legal|compliance|negative)\b",
    ),
];

static SECRET: [Rule; 3] = [
    Rule::new(
        "secret: asks the customer to send a secret",
        concat!(
            r"\b(?:send|share|give|provide|tell|reply with|respond with|dm|forward|read out|spell out|text)\s+(?:it\s+)?(?:me\s+|us\s+|robin\s+|the team\s+|our team\s+|support\s+)?(?:with\s+)?(?:your|the|a copy of your|both)\s+(?:current\s+|full\s+|new\s+|old\s+|account\s+)?",
            secret!()
        ),
    )
    .guarded(asks_customer),
    Rule::new("secret: asks what the customer's secret is", concat!(r"\bwhat(?:'s| is| are) your\s+(?:current\s+)?", secret!()))
        .guarded(asks_customer),
    Rule::new(
        "secret: says a secret is needed from the customer",
        concat!(r"\b(?:we|i) (?:need|require|will need|'ll need|must have)\s+(?:your|the)\s+(?:current\s+|full\s+)?", secret!()),
    )
    .guarded(asks_customer),
];

#[cfg(test)]
mod tests;
