//! `refund_request`: the customer wants money returned or credited — refunds, credits and
//! service credits, reversing or disputing a charge, chargebacks, compensation, and
//! complaints about charges ("charged twice", "charged after cancelling", "billed for seats
//! we didn't use"). "Return", "revert", "get back" or "undo" in a product sense, how to
//! cancel, receipts and replacing a card are not.

use super::super::pattern::{Hit, Pat, Rule, evidence as rule_evidence, not_disclaimed};

/// Evidence of a refund request in the folded sentences of a message.
pub(super) fn evidence(sentences: &[&str]) -> Vec<&'static str> {
    rule_evidence(&RULES, sentences)
}

/// "Credit" as money credited, not a credit card.
fn credit_not_card(hit: &Hit<'_>) -> bool {
    !CARD_AFTER.is_match(&hit.window[hit.end..]) && not_disclaimed(hit)
}

static CARD_AFTER: Pat = Pat::new(r"^\s*(?:-\s*)?cards?\b|^\s*(?:check|score|limit|union)\b");

/// A complaint about a past charge, not a question about future billing ("so we aren't
/// billed again", "will we be charged after cancelling?").
fn past_charge(hit: &Hit<'_>) -> bool {
    !HYPOTHETICAL.is_match(hit.before()) && not_disclaimed(hit)
}

static HYPOTHETICAL: Pat = Pat::new(
    r"\b(?:not|never|will|won't|would|wouldn't|avoid|prevent|stop|if|when|whether|before|so that|how|can|could|should|shall|do|does|don't|doesn't)\b|n't\b|\bso\s+(?:we|i|they)\b",
);

/// "Reverse it" / "undo it" counts when the window talks about a charge.
fn about_a_charge(hit: &Hit<'_>) -> bool {
    MONEY_TAKEN.is_match(hit.window)
}

static MONEY_TAKEN: Pat =
    Pat::new(r"\b(?:charged|billed|debited|charge|payment|transaction|invoice|money|card was|took|taken|deducted)\b");

/// Cancelling or removing a charge, not a payment method.
fn charge_not_method(hit: &Hit<'_>) -> bool {
    !METHOD_AFTER.is_match(&hit.window[hit.end..]) && not_disclaimed(hit)
}

static METHOD_AFTER: Pat =
    Pat::new(r"^\s*(?:methods?|details|info|information|settings?|page|screen|history|reminders?)\b");

/// "Compensation" for charges or an outage, not a payroll topic.
fn compensation_for_us(hit: &Hit<'_>) -> bool {
    COMPENSATION_CONTEXT.is_match(hit.window) && not_disclaimed(hit)
}

static COMPENSATION_CONTEXT: Pat = Pat::new(
    r"\b(?:for|seek|seeking|want|expect|claim|demand|ask|request|owed|entitled|us|me|downtime|outage|loss|losses|lost|impact)\b",
);

/// Every refund rule.
static RULES: [Rule; 17] = [
    Rule::new("refund: asks for a refund", r"\brefund\w*|\breimburs\w*|\bmoney back\b").guarded(not_disclaimed),
    Rule::new(
        "refund: wants money returned",
        r"\b(?:get|give|send|pay|put|return|want|have|need|transfer|wire)\s+(?:us\s+|me\s+)?(?:our\s+|my\s+|the\s+|that\s+|this\s+)?(?:money|funds|payment)\s+(?:back|returned)\b|\b(?:money|payment|funds)\s+(?:returned|back)\b|\bpay (?:us|me) back\b|\b(?:return|refund|reverse|give back|send back|pay back)\s+(?:the|our|my|that|this)\s+(?:\w+\s+)?(?:money|payments?|funds|charges?|amount)\b|\bsend back (?:the|that|our|my) (?:payment|money|charge)\b|\b(?:give|send|pay|put|get)\s+(?:me\s+|us\s+)?back\s+(?:the|our|my|that|this)\s+(?:money|payment|funds|amount)\b",
    )
    .guarded(not_disclaimed),
    Rule::new(
        "refund: asks for a credit or service credit",
        r"\b(?:service|account|partial|full|prorated|pro-rated|billing)\s+credits?\b|\b(?:a|some|any|the|issue|get|give|want|request|receive|owed|owe)\s+(?:us\s+|me\s+)?(?:a\s+)?credits?\b|\bcredit notes?\b|\bcredit(?:ed)?\s+(?:back|us|me|our|my|it|them|those|these|that|this)\b|\bcredit(?:ed)?\s+(?:\w+\s+){0,3}back\b|\bcredit(?:ed)?\s+(?:the|for the|those|these)\s+(?:\w+\s+)?(?:amount|charges?|seats?|difference|payments?|money|account|months?|users?|licen[cs]es?)\b|\bcredits?\s+(?:for|towards?|on)\b|\b(?:be|get|getting|been)\s+credited\b|\bthe difference credited\b",
    )
    .guarded(credit_not_card),
    Rule::new(
        "refund: chargeback or disputed charge",
        r"\bcharge ?backs?\b|\bdisput(?:e|es|ed|ing)\b.{0,30}\b(?:charge|payment|transaction|invoice|bill|debit)\w*|\b(?:charge|payment|transaction)\s+(?:is|was)\s+disputed\b|\bunauthori[sz]ed (?:charge|payment|transaction|debit)s?\b|\b(?:didn't|did not|never) authori[sz]e (?:this|the|that|a|any) (?:charge|payment|transaction)\b",
    ),
    Rule::new(
        "refund: asks to reverse or cancel a charge",
        r"\b(?:reverse|reversing|reversal of|cancel|void|take back|remove|undo|refund)\s+(?:the\s+|this\s+|that\s+|a\s+|our\s+|my\s+|last\s+|these\s+|those\s+)?(?:\w+\s+)?(?:charges?|payments?|transactions?|debits?)\b",
    )
    .guarded(charge_not_method),
    Rule::new("refund: asks to reverse or undo what was charged", r"\b(?:reverse|undo|refund|cancel)\s+(?:it|this|that|them)\b")
        .guarded(about_a_charge)
        .in_pairs(),
    Rule::new(
        "refund: charged twice or after cancelling",
        r"\b(?:charged|billed|debited|invoiced)\s+(?:us\s+|me\s+)?(?:twice|two times|double|2x|three times|multiple times|again|a second time)\b|\bdouble[- ]?(?:charged|billed|charge|charging|billing)\b|\bover-?(?:charged|billed|charging|billing)\b|\boverbill\w*|\bduplicate (?:charge|payment|invoice|billing|transaction|debit)s?\b",
    )
    .guarded(past_charge),
    Rule::new(
        "refund: charged after cancelling or downgrading",
        r"\b(?:charged|billed|debited|paying|paid|took a payment|taken a payment|took (?:the|our|my) money)\b.{0,50}\bafter\s+(?:we\s+|i\s+|having\s+)?(?:had\s+)?(?:cancel\w*|downgrad\w*|remov\w*|deactivat\w*|clos\w*)|\b(?:cancel\w*|downgrad\w*)\b.{0,40}\b(?:still|again)\b.{0,20}\b(?:charged|billed|debited|took|taken|paying)\b",
    )
    .guarded(past_charge),
    Rule::new(
        "refund: billed for seats or users not used",
        r"\b(?:charged|billed|paying|paid|invoiced)\b.{0,30}\bfor\b.{0,50}\b(?:didn't|did not|don't|do not|never|no one|nobody|not|weren't|wasn't|without (?:anyone|anybody))\s+(?:\w+\s+)?(?:use|using|used|need|needed|exist|active|order|ordered|ask|asked|log)\b|\b(?:been|were|was|are being|is being|keep being|still being|got|have been|we've been)\s+(?:charged|billed|paying|invoiced)\b.{0,50}\b(?:empty|unused|inactive|idle|duplicate|deleted|removed|deactivated|wrong|incorrect|extra|phantom)\b|\b(?:billed|charged|invoiced) us for\b.{0,40}\b(?:deactivated|deleted|removed|duplicate|inactive)\b",
    )
    .guarded(past_charge),
    Rule::new(
        "refund: wrong or unexpected charge",
        r"\b(?:wrong|incorrect) (?:amount|charge)\b.{0,30}\b(?:charged|billed|taken|debited)\b|\b(?:charged|billed|debited)\b.{0,20}\b(?:the )?(?:wrong|incorrect) amount\b|\bshould(?:n't| not) have been (?:charged|billed)\b",
    )
    .guarded(not_disclaimed),
    Rule::new(
        "refund: wants a charged amount back",
        r"\b(?:need|want|like|expect|get|have|see)\b.{0,20}\b(?:it|them|one of them|that|this|the amount|that amount|this amount|the difference|the charge|that charge)\s+(?:back|returned|refunded|reimbursed|reversed)\b",
    )
    .guarded(about_a_charge)
    .in_pairs(),
    Rule::new(
        "refund: disputes why a charge was taken",
        r"\b(?:charged|billed|debited|invoiced)\b.{0,40}\b(?:even though|although|despite|instead of|rather than|but (?:i|we) (?:only|never|didn't|did not|had)|when (?:i|we) (?:had|only|never))\b|\b(?:took|taken|charged|debited)\s+(?:us\s+|me\s+)?(?:two|2|double|duplicate|multiple|three)\s+(?:payments|charges|times|debits)\b",
    )
    .guarded(past_charge),
    Rule::new(
        "refund: charged after cancelling (Spanish, Portuguese, French)",
        r"\b(?:devuelv\w*|devolv\w*|reintegr\w*)\b.{0,20}\b(?:dinero|dinheiro|pago|cobro|importe|valor)\b|\b(?:dinero|dinheiro)\b.{0,15}\b(?:de vuelta|de volta)\b|\bcancel\w*\b.{0,50}\b(?:cobraron|cobro|cobrou|cobraram|debitaron|facturaron|debitou|preleve|debite)\b",
    ),
    Rule::new(
        "refund: asks for a charge or invoice to be reversed",
        r"\b(?:charges?|payments?|transactions?|invoices?|debits?|bill)\s+(?:\w+\s+)?(?:reversed|refunded|cancel+ed|voided|credited|undone|taken off|returned|written off|annulled)\b",
    )
    .guarded(not_disclaimed),
    Rule::new("refund: asks to reverse what was charged", r"\b(?:please|pls|kindly|can you|could you|would you)\s+(?:\w+\s+)?(?:reverse|refund|undo)\b")
        .guarded(about_a_charge)
        .in_pairs(),
    Rule::new("refund: asks for compensation", r"\bcompensat\w*").guarded(compensation_for_us),
    Rule::new(
        "refund: money back in Spanish, Portuguese, French or German",
        r"\breembols\w*|\bdevolucion\b|\bdevolver (?:el|mi|nuestro|o|meu|nosso) (?:dinero|dinheiro)\b|\bdevuelvan\b|\bdevolvam\b|\bestorn\w*|\bdevolucao\b|\bmi dinero\b|\bmeu dinheiro\b|\brembours\w*|\bruckerstatt\w*|\bzuruckerstatt\w*|\berstattung\b|\bgeld zuruck\b|\bgutschrift\b|\bgutschreiben\b|\bcobrad[oa]s? (?:dos veces|duas vezes|em dobro|doble)\b|\bme cobraron dos veces\b|\bcobro (?:doble|duplicado)\b|\bcobranca (?:duplicada|em dobro)\b|\bdebite deux fois\b|\bfacture deux fois\b|\bdoppelt (?:abgebucht|berechnet|belastet)\b|\bdoppelte\w* abbuchung\b",
    ),
];

#[cfg(test)]
mod tests {
    use super::super::super::pattern::invalid_patterns;
    use super::*;

    #[test]
    fn refund_patterns_compile() {
        assert!(invalid_patterns(&RULES).is_empty(), "{:?}", invalid_patterns(&RULES));
        for pat in [&CARD_AFTER, &HYPOTHETICAL, &MONEY_TAKEN, &METHOD_AFTER, &COMPENSATION_CONTEXT] {
            assert!(pat.is_valid());
        }
    }
}
