//! `pricing_inquiry`: any question about what Tallyloom costs or any attempt to negotiate
//! commercial terms — prices per seat or plan, quotes, totals, discounts (volume, nonprofit,
//! education, startup, multi-year), "costs extra", plan comparisons by cost, future price
//! changes, price protection and trial extensions. What a plan includes, limits, how and when
//! to upgrade or downgrade, proration, the billing-period setting, invoices and payment
//! methods are not.

use super::super::pattern::{Hit, Pat, Rule, evidence as rule_evidence, not_disclaimed};

/// Evidence of a pricing inquiry in the folded sentences of a message.
pub(super) fn evidence(sentences: &[&str]) -> Vec<&'static str> {
    let joined: Vec<String> = sentences.iter().map(|s| join_product_terms(s)).collect();
    let views: Vec<&str> = joined.iter().map(String::as_str).collect();
    rule_evidence(&RULES, &views)
}

/// Glues product terms that contain a pricing word into one token, so that "rate limit",
/// "hourly rate" or "billable rate" never read as a price.
fn join_product_terms(sentence: &str) -> String {
    let mut out = sentence.to_owned();
    for (term, glued) in [
        ("rate limit", "ratelimit"),
        ("rate-limit", "ratelimit"),
        ("hourly rate", "hourlyrate"),
        ("billable rate", "billablerate"),
        ("billing rate", "billingrate"),
        ("cost rate", "costrate"),
    ] {
        out = out.replace(term, glued);
    }
    out
}

/// "Price" about Tallyloom, not the customer's own product prices or a custom field.
fn tallyloom_price(hit: &Hit<'_>) -> bool {
    !OWN_PRICES.is_match(hit.window) && not_disclaimed(hit)
}

static OWN_PRICES: Pat = Pat::new(
    r"\b(?:client|customer|product|item|unit|selling|sale|hourly|our clients'?|menu)\s+prices?\b|\bprices?\s+(?:field|column|property|attribute|tag)\b",
);

/// "Cost" as what Tallyloom costs, not project costs, cost codes or "it cost us a client".
fn tallyloom_cost(hit: &Hit<'_>) -> bool {
    let before = hit.before();
    let after = &hit.window[hit.end..];
    if COST_OWN_BEFORE.is_match(before) || COST_OWN_AFTER.is_match(after) {
        return false;
    }
    if COST_US.is_match(after) && !COST_QUESTION.is_match(before) {
        return false;
    }
    not_disclaimed(hit)
}

static COST_OWN_BEFORE: Pat = Pat::new(
    r"\b(?:project|labou?r|internal|staff|employee|client|track|tracking|billable|actual|travel|budgeted|material|materials|time|at all|at the|at any|personnel|overhead|running|manage|managing|allocate|allocating|record|recording|log|logging|monitor|monitoring|report on|our|their)\s*$|\bat\s*$",
);
static COST_OWN_AFTER: Pat = Pat::new(
    r"^\s*(?:center|centre|centers|centres|code|codes|report|reports|category|categories|field|fields|tracking|estimate|estimates|per hour|of living|per (?:project|client|task|job|entry)|by (?:project|client|task))\b",
);
static COST_US: Pat = Pat::new(r"^\s*(?:us|me|them|him|her|our|my)\b");
static COST_QUESTION: Pat = Pat::new(r"\b(?:what|how much|would|will|does|do|did|could)\b");

/// "A quote" as a price quote, not a quotation from someone.
fn price_quote(hit: &Hit<'_>) -> bool {
    !QUOTE_FROM.is_match(&hit.window[hit.end..]) && not_disclaimed(hit)
}

static QUOTE_FROM: Pat = Pat::new(r"^\s*(?:from|block|blocks|mark|marks|character|in (?:a|the) comment)\b");

/// Per-unit wording counts when the sentence asks about money.
fn money_question(hit: &Hit<'_>) -> bool {
    MONEY_WORDS.is_match(hit.window) && not_disclaimed(hit) && !ALREADY_PAYING.is_match(hit.before())
}

/// What the customer pays today ("still paying for 12 seats"): a statement
/// of their bill, not a question about an amount.
static ALREADY_PAYING: Pat = Pat::new(
    r"\b(?:still|already|currently|been|are|we're|i'm|keep|keeps|now)\s+(?:being\s+)?(?:paying|billed|charged)\s*$",
);

static MONEY_WORDS: Pat = Pat::new(
    r"\b(?:how much|come to|cost\w*|price\w*|pricing|quote|budget|figures?|total|amount|pay|paying|charge|spend|euros?|dollars?|pounds?|ballpark|roughly|approx\w*|estimate|run|runs)\b|[€$£]",
);

/// An add-on for money, not a browser add-on.
fn paid_add_on(hit: &Hit<'_>) -> bool {
    !BROWSER.is_match(hit.window) && not_disclaimed(hit)
}

static BROWSER: Pat =
    Pat::new(r"\b(?:browser|firefox|chrome|edge|safari|outlook|gmail|excel|word|sheets|docs|vs ?code|figma)\b");

/// Amounts of money in a negotiating or comparing sentence.
fn negotiating_amount(hit: &Hit<'_>) -> bool {
    NEGOTIATION.is_match(hit.window) && not_disclaimed(hit)
}

static NEGOTIATION: Pat = Pat::new(
    r"\b(?:match|beat|offer\w*|deal|budget|willing|can you do|could you do|would you do|instead|only|max|maximum|per (?:seat|user|month|year)|cheaper|lower|reduce|competitor\w*|quote|discount\w*)\b|/\s?(?:seat|user|month|mo|year|yr)\b",
);

/// Discount audiences (nonprofits, education …) count next to a commercial word.
fn audience_with_offer(hit: &Hit<'_>) -> bool {
    OFFER_WORDS.is_match(hit.window) && not_disclaimed(hit)
}

static OFFER_WORDS: Pat = Pat::new(
    r"\b(?:rate|rates|pricing|price|prices|terms|offer|offers|deal|deals|discount\w*|reduction|concession\w*|special|reduced|licen[cs]ing|cheaper|programs?|programmes?|tarifa\w*|remise|rabatt|desconto|descuento|precio|preco|prix|preis\w*|condi(?:c|t)i?o(?:n|es)\w*)\b",
);

/// Every pricing rule.
static RULES: [Rule; 19] = [
    Rule::new("pricing: asks about prices", r"\b(?:price|prices|pricing|priced|pricelist|price list|price tag|price sheet|rate card)\b")
        .guarded(tallyloom_price),
    Rule::new("pricing: asks what something costs", r"\bcost(?:s|ing|ed)?\b|\bcost-?effective\b").guarded(tallyloom_cost),
    Rule::new(
        "pricing: asks how much",
        r"\bhow much\s+(?:is|are|does|do|did|would|will|for|per|to|extra|more|money|we|i|it|it's|its|should|can|cost|they|the|a|an|would)\b",
    )
    .guarded(not_disclaimed),
    Rule::new(
        "pricing: asks for a quote",
        r"\b(?:a|an|the|your|formal|price|pricing|custom|written|updated|new|renewal|official|our)\s+(?:quote|quotation)s?\b|\bquot(?:e|ation)s?\s+for\b|\bquote\s+(?:us|me)\b",
    )
    .guarded(price_quote),
    Rule::new(
        "pricing: asks for a discount or special rate",
        r"\bdiscount\w*|\bcoupons?\b|\bpromo(?:tion(?:al)?)? codes?\b|\bvouchers?\b|\brebates?\b|\bspecial (?:terms|rate|rates|pricing|price|prices|conditions|deal|offer|discount)\b|\b(?:reduced|discounted|preferential|lower|better|best) (?:rate|rates|price|prices|pricing|fee|fees|terms|deal|offer)\b|\b(?:good|better|best) deal\b",
    )
    .guarded(not_disclaimed),
    Rule::new(
        "pricing: nonprofit, education or startup terms",
        r"\b(?:non-?profits?|not[- ]for[- ]profits?|charit(?:y|ies|able)|ngos?|education(?:al)?|academic|students?|schools?|universit(?:y|ies)|start-?ups?|government|public sector|volume|multi-?year|bulk|loyalty|early[- ]bird|associations?|asociacion(?:es)?|associacao|associacoes|ong|gemeinnutzig\w*|sin fines de lucro|sem fins lucrativos|sans but lucratif|verein\w*)\b",
    )
    .guarded(audience_with_offer),
    Rule::new(
        "pricing: asks about offers for a type of organisation",
        r"\bdo you (?:offer|have|give|provide|do)\b.{0,40}\bfor (?:non-?profits?|charit(?:y|ies)|ngos?|students?|schools?|educat\w*|start-?ups?|universit(?:y|ies)|academi\w*|small (?:teams|businesses))\b",
    )
    .guarded(not_disclaimed),
    Rule::new("pricing: compares plans by cost", r"\bcheaper\b|\bcheapest\b|\bless expensive\b|\bmore affordable\b|\bbetter value\b|\bbest value\b|\bvalue for money\b|\bmost economical\b|\bworth the (?:money|price|extra)\b|\bcan'?t afford\b")
        .guarded(not_disclaimed),
    Rule::new(
        "pricing: asks whether something costs extra",
        r"\b(?:pay|paying|charged?|charging|billed?|cost|costs|costing)\s+(?:\w+\s+)?(?:extra|more|additional(?:ly)?|separately)\b|\b(?:extra|additional|separate|hidden|setup|set-up|one-off|one-time)\s+(?:charges?|costs?|fees?|payments?)\b|\bfree of charge\b|\bfor free\b|\bfree (?:plan|tier|version|account|seats?)\b|\bat no (?:extra |additional )?(?:cost|charge)\b|\bincluded in the price\b",
    )
    .guarded(not_disclaimed),
    Rule::new("pricing: asks about a paid add-on", r"\badd-?ons?\b").guarded(paid_add_on),
    Rule::new(
        "pricing: asks for a total or per-seat amount",
        r"\b(?:per|a|each|for each|for every)[\s-]+(?:seat|user|member|head|licen[cs]e|person|month|year)\b|\bfor\s+\d+\s+(?:users?|seats?|people|ppl|members?|staff|employees|licen[cs]es?|persons?|pax)\b|\bcome to\b",
    )
    .guarded(money_question),
    Rule::new(
        "pricing: negotiates or asks about price changes",
        r"\bnegotiat\w*|\b(?:match|beat)\b.{0,30}\b(?:price|offer|quote|deal|rate)\b|\bcompetitor\w*\b.{0,40}\b(?:cheaper|price|offer|quote|deal|rate|charges?|less)\b|\b(?:price|pricing|rate)s? (?:lock|protection|guarantee|freeze|increase|increases|change|changes|rise|hike)\b|\block(?:ed)? in\b.{0,25}\b(?:price|pricing|rate|rates|cost)\b|\b(?:prices?|pricing|rates?|costs?|bill|fees?)\s+(?:\w+\s+){0,2}(?:go|going|went|gone)\s+up\b|\b(?:increase|raise|raising|increasing|change|changing)\s+(?:your|the|our)\s+(?:prices?|pricing|rates?|fees?)\b|\brenewal (?:price|pricing|quote|rate|discount|terms|offer|negotiation|cost)s?\b|\b(?:per[\s-]seat|seat|user|licen[cs]e|subscription|our|the|current|annual|monthly)\s+(?:price|pricing|rate)s?\s+(?:will\s+|would\s+|is going to\s+|might\s+|may\s+|could\s+)?(?:change|increase|rise|go up|stay the same)\b|\block\s+(?:in\s+)?(?:\w+\s+){0,2}(?:prices?|pricing|rates)\b|\block\s+(?:the|our|this|today's)\s+(?:current\s+)?rate\b",
    )
    .guarded(not_disclaimed),
    Rule::new(
        "pricing: asks to extend the trial",
        r"\b(?:extend\w*|extension|prolong\w*|lengthen|longer|(?:more|extra|additional|another)\s+(?:\w+\s+)?(?:days?|weeks?|months?|time))\b.{0,40}\btrials?\b|\btrials?\b.{0,40}\b(?:extend\w*|extension|longer|prolong\w*|(?:more|extra|additional|another)\s+(?:\w+\s+)?(?:days?|weeks?|months?|time))\b",
    )
    .guarded(not_disclaimed),
    Rule::new(
        "pricing: quotes an amount while negotiating",
        r"[€$£]\s?\d|\d[\d,.]*\s?(?:€|\$|£|eur|euros?|usd|dollars?|gbp|pounds?|chf|cad|aud)\b|\b(?:eur|usd|gbp|cad|aud|chf)\s?\d",
    )
    .guarded(negotiating_amount),
    Rule::new(
        "pricing: saving money",
        r"\bsav(?:e|ing)\s+(?:money|\d+\s?%|on (?:the |our )?(?:bill|cost|price|subscription))\b|\bsavings\b|\d+\s?% off\b|\bpercent off\b",
    )
    .guarded(not_disclaimed),
    Rule::new(
        "pricing: asks about prices in Spanish, Portuguese, French or German",
        r"\b(?:precios?|costo|coste|costos|descuentos?|cotizacion|tarifas?|mas barato|barato|rebaja|cuanto (?:cuesta|cuestan|vale|valen|sale|cobran|costaria|seria)|cuesta (?:el|la|cada|por)|precos?|custos?|descontos?|orcamento|cotacao|quanto (?:custa|custam|custaria|e|sai|cobram|fica)|prix|tarifs?|tarification|remise|rabais|devis|moins cher|couts?|combien (?:coute|coutent|couterait|ca coute|cela coute|pour|faut)|preise?|preisliste|kosten|kostet|rabatt|nachlass|kostenvoranschlag|gunstiger|billiger|aufpreis|was kostet|wie teuer)\b",
    )
    .guarded(not_disclaimed),
    Rule::new(
        "pricing: asks about fees or spend",
        r"\b(?:fee|fees|surcharge|subscription (?:cost|price|fee)|licen[cs]e (?:cost|fee|price)s?)\b|\b(?:annual|yearly|monthly|total|overall|our|the) (?:spend|bill|outlay)\b|\b(?:money|cost|price|budget)[- ]wise\b|\bworth the (?:money|cost)\b|\b(?:least|less|most|more|save|saving|spend|spending|extra|any) money\b|\bfor the money\b|\b(?:what|how much)\b.{0,30}\b(?:run|runs|set (?:us|me) back|come out (?:to|at)|work out (?:to|at))\b",
    )
    .guarded(not_disclaimed),
    Rule::new(
        "pricing: asks for commercial flexibility",
        r"\bflexib\w*\b.{0,30}\b(?:price|pricing|per[- ]seat|per[- ]user|number|cost|rate|terms|fee|renewal)\b|\b(?:wiggle room|room to move|best you can do|best offer)\b",
    )
    .guarded(not_disclaimed),
    Rule::new("pricing: asks for figures for a budget", r"\bfigures? for (?:a |our |the )?budget\b|\bbudget (?:meeting|approval|figures?|sign-?off)\b")
        .guarded(not_disclaimed),
];

#[cfg(test)]
mod tests {
    use super::super::super::pattern::invalid_patterns;
    use super::*;

    #[test]
    fn pricing_patterns_compile() {
        assert!(invalid_patterns(&RULES).is_empty(), "{:?}", invalid_patterns(&RULES));
        for pat in [
            &OWN_PRICES,
            &COST_OWN_BEFORE,
            &COST_OWN_AFTER,
            &COST_US,
            &COST_QUESTION,
            &QUOTE_FROM,
            &MONEY_WORDS,
            &BROWSER,
            &NEGOTIATION,
            &OFFER_WORDS,
        ] {
            assert!(pat.is_valid());
        }
    }
}
