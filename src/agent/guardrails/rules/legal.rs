//! `legal_inquiry`: legal threats and disputes, complaints to a regulator, formal demands
//! that invoke a law (GDPR articles, data-subject rights), subpoenas and police requests, and
//! requests to review or change contract terms, liability or indemnity. A lawyer mentioned
//! as a user of the product ("our outside counsel needs access to one project") or a law
//! firm asking a how-to question is not a legal inquiry.

use super::super::pattern::{Hit, Pat, Rule, evidence as rule_evidence};

/// Evidence of a legal inquiry in the folded sentences of a message.
pub(super) fn evidence(sentences: &[&str]) -> Vec<&'static str> {
    rule_evidence(&RULES, sentences)
}

/// Verbs and nouns that turn a mention of a lawyer into a threat or a dispute.
static THREAT_CONTEXT: Pat = Pat::new(
    r"\b(?:in touch|contact\w*|hear from|letter|review\w*|look(?:ing)? into|advis\w*|involv\w*|instruct\w*|forward\w*|pass(?:ed|ing)? (?:this|it|the matter)|hand(?:ed|ing)? (?:this|it|the matter)|consult\w*|refer\w*|sue|suing|legal|claim\w*|action|court|breach\w*|liab\w*|terms|contract\w*|rights?|demand\w*|notice|complain\w*|compensat\w*|damages|proceed\w*|pursue|unless|deadline|threat\w*|draft\w*|redline\w*|indemn\w*|msa|agreement|clauses?|gdpr|law|laws|lawsuit|dispute\w*|entrar em contato|contacto|contactar|prendra contact|kontakt\w*|melden|eingeschaltet|beauftragt|hinzugezogen|contratado|contratamos|involucrado|acionado|saisi|mandate)\b|\bif (?:this|it|you)\b|\bwill be\b|'ll be\b",
);

/// Words that show the lawyer is simply a user or the customer's line of business.
static PRODUCT_CONTEXT: Pat = Pat::new(
    r"\b(?:law firm|legal practice|firm|access|see|view|invite\w*|users?|seats?|accounts?|projects?|matters?|workspaces?|permissions?|roles?|guests?|log ?in|sign ?in|boards?|tasks?|timesheets?|hours|track\w*|clients?|billable|members?|licen[cs]es?|paralegals?|dpa|questionnaire|soc ?2|iso|sub-?processors?|certif\w*|reports?)\b",
);

/// A lawyer counts when the sentence threatens or disputes, or — when the intent is
/// unclear — unless the sentence is about using the product or is a signature line.
fn lawyer_means_legal(hit: &Hit<'_>) -> bool {
    let rest = hit.rest();
    if THREAT_CONTEXT.is_match(&rest) {
        return true;
    }
    let ends_sentence = hit.window.trim_end().ends_with(['.', '!', '?']);
    let short_line = super::super::text::word_count(hit.window) <= 6 && !ends_sentence;
    !short_line && !PRODUCT_CONTEXT.is_match(&rest)
}

/// "Our legal team" counts only in a threat or dispute ("our legal team will be in touch").
fn legal_team_threatens(hit: &Hit<'_>) -> bool {
    THREAT_CONTEXT.is_match(&hit.rest())
}

/// Sports and food courts are not courts of law.
fn court_of_law(hit: &Hit<'_>) -> bool {
    !SPORTS_COURT.is_match(hit.window)
}

static SPORTS_COURT: Pat = Pat::new(
    r"\b(?:tennis|basketball|sports?|squash|padel|badminton|volleyball|food|netball|handball|pickleball)\s+courts?\b",
);

/// A complaint to, or a report to, a regulator.
fn regulator_complaint(hit: &Hit<'_>) -> bool {
    COMPLAINT_VERB.is_match(hit.window)
}

static COMPLAINT_VERB: Pat = Pat::new(
    r"\b(?:report(?:ed|ing)?|complain\w*|complaint|file[ds]?|filing|lodge[ds]?|lodging|escalat\w*|contact\w*|write to|written to|wrote to|going to (?:the|a)|went to|take (?:this|it) to|took (?:this|it) to|denunci\w*|plainte|beschwerde)\b",
);

/// "Illegal" about data handling, not an illegal character in a file name.
fn illegal_conduct(hit: &Hit<'_>) -> bool {
    !NOT_CONDUCT.is_match(hit.after())
}

static NOT_CONDUCT: Pat = Pat::new(
    r"^\s*(?:character|characters|value|values|argument|state|operation|input|token|instruction|format|name|move)\b",
);

/// Changing contract wording is legal; changing seats or price on a contract is commercial.
fn contract_terms_not_commercial(hit: &Hit<'_>) -> bool {
    !COMMERCIAL.is_match(hit.window)
}

static COMMERCIAL: Pat = Pat::new(
    r"\b(?:price|pricing|discount\w*|quote|seats?|cost\w*|rate|rates|renewal price|\d+-year|multi-?year|users?|licen[cs]es?|plan|renew\w*)\b",
);

/// Every legal rule, strongest signals first.
static RULES: [Rule; 16] = [
    Rule::new(
        "legal: threatens a lawsuit or legal action",
        r"\b(?:lawsuits?|litigation|litigate|class action|legal (?:action|proceedings|steps|recourse|remedies|remedy|claims?|dispute|notice|measures|route|options|advice|consequences|challenge))\b|\b(?:will|going to|gonna|to|we'?ll|i'?ll|ill|shall|could|can|threaten\w*|planning to|intend to|consider\w*|might|may)\s+sue\b|\bsue\s+(?:you|tallyloom|your company|the company|them|for|if|unless)\b|\bsuing\b",
    ),
    Rule::new(
        "legal: mentions court",
        r"\b(?:to|in|into|before|see you in)\s+(?:a\s+|the\s+)?(?:small[- ]claims\s+)?court\b|\bcourt (?:order|orders|case|date|proceedings|action|claim|filing|ruling|summons|hearing)\b|\bsmall[- ]claims\b|\bthe courts\b",
    )
    .guarded(court_of_law),
    Rule::new(
        "legal: subpoena, warrant, police or court-ordered request",
        r"\bsubpoena\w*|\bsearch warrant\b|\ba warrant\b|\bpolice\b|\blaw enforcement\b|\b(?:production|disclosure|preservation) orders?\b|\bdetective\b|\b(?:criminal|fraud) (?:investigation|inquiry|enquiry|matter)\b|\bcease and desist\b|\binjunction\b|\b(?:legal|litigation) hold\b|\baffidavit\b|\bdeposition\b",
    ),
    Rule::new(
        "legal: complaint to a regulator or data protection authority",
        r"\b(?:data protection (?:authority|authorities|commission|commissioner|board|agency|office|regulator)|supervisory authority|regulator|regulatory (?:authority|body)|information commissioner|ico|cnil|aepd|garante|anpd|bfdi|edpb|dpc|ombudsman|trading standards|consumer (?:protection|rights) (?:agency|authority|office|body|organi[sz]ation)|ftc|attorney general|datenschutzbehorde|aufsichtsbehorde|autoridad de proteccion de datos|autorite de protection des donnees|procon)\b|\b(?:to|with) (?:the|my|our|your local) dpa\b",
    )
    .guarded(regulator_complaint),
    Rule::new(
        "legal: GDPR complaint",
        r"\bgdpr complaint\b|\bcomplaint (?:under|citing) (?:the )?gdpr\b|\b(?:file[ds]?|filing|lodge[ds]?|submit\w*|made|make)\s+(?:a\s+|an\s+)?(?:formal\s+|official\s+)?complaint with\b",
    ),
    Rule::new(
        "legal: formal demand citing a law",
        r"\b(?:article|art\.?)\s*\d+\b.{0,40}\b(?:gdpr|dsgvo|rgpd|lgpd|regulation)\b|\b(?:gdpr|dsgvo|rgpd|lgpd|ccpa)\b.{0,20}\b(?:article|art\.?|section|§)\s*\d+|\bright (?:of|to) (?:access|erasure|be forgotten|rectification|data portability|portability|object|restriction)\b|\b(?:data )?subject access request\b|\bdsar\b|\bdata subject (?:access )?request\b|\b(?:as|is) (?:required|mandated) by (?:law|the law|gdpr|the gdpr|regulation)\b|\blegally (?:required|obliged|obligated|bound)\b|\bstatutory\b|\bexercis(?:e|ing) (?:my|our) (?:rights?|legal)\b",
    ),
    Rule::new(
        "legal: demand made under a data-protection law",
        r"\bunder (?:the )?(?:gdpr|ccpa|lgpd|dsgvo|rgpd|data protection act|consumer (?:rights|protection) act|law)\b.{0,60}\b(?:request|demand|require|entitled|right|exercise|obliged|must|insist)\w*|\b(?:request|demand|require|insist|exercise|exercising)\w*\b.{0,60}\bunder (?:the )?(?:gdpr|ccpa|lgpd|dsgvo|rgpd|data protection act|law)\b",
    ),
    Rule::new("legal: formal notice or letter before action", r"\bformal (?:notice|demand|legal)\b|\bnotice of (?:breach|claim|dispute|termination)\b|\bletter (?:before|of) (?:action|claim|demand)\b|\bdemand letter\b"),
    Rule::new(
        "legal: liability, indemnity or contract terms",
        r"\b(?:liability|liabilities|indemnit(?:y|ies)|indemnif\w*|limitation of liability|governing law|jurisdiction clause|warranty clause|msa|master (?:services?|subscription) agreement|redlin\w*|contract terms|terms of (?:the|our|your) (?:contract|agreement|msa)|legal terms|(?:contract|agreement) clauses?)\b",
    ),
    Rule::new(
        "legal: asks to review or change a contract",
        r"\b(?:review|change|amend|modify|edit|mark up|markup|renegotiate|strike|rewrite)\w*\b.{0,30}\b(?:the|our|your|this)\s+(?:contract|agreement|terms and conditions|terms of service|terms of use|t&cs?|eula|clauses?)\b",
    )
    .guarded(contract_terms_not_commercial),
    Rule::new(
        "legal: alleges a breach or unlawful conduct",
        r"\b(?:breach(?:ed|ing)? of|in breach|violat\w*|breaking|breached|infring\w*)\b.{0,40}\b(?:contract|agreement|sla|terms|tos|law|laws|gdpr|regulation|obligations|privacy|rights)\b|\bagainst the law\b|\bunlawful\w*\b|\billegal(?:ly)?\b",
    )
    .guarded(illegal_conduct),
    Rule::new(
        "legal: a lawyer, attorney, solicitor or counsel is involved",
        r"\b(?:lawyers?|attorneys?|solicitors?|barristers?|counsel|abogad[oa]s?|advogad[oa]s?|avocats?|anwalt|anwaltin|anwalte|rechtsanwalt\w*)\b",
    )
    .guarded(lawyer_means_legal),
    Rule::new("legal: the customer's legal team is taking action", r"\b(?:our|my|the company's) legal (?:team|department|dept|people)\b")
        .guarded(legal_team_threatens),
    Rule::new(
        "legal: legal threat in Spanish, Portuguese, French or German",
        r"\b(?:demandar\w*|presentar una demanda|poner una demanda|acciones? (?:legal|legales|judicial|judiciales)|medidas legales|tribunal(?:es)?|juzgado|vamos a denunciar|processar (?:voces|vcs|a empresa|a tallyloom|voce)|vamos processar|acao judicial|processo judicial|medidas (?:legais|judiciais)|justica|poursuivre|poursuites|action en justice|mise en demeure|porter plainte|verklagen|klage einreichen|vor gericht|gericht\w*|rechtliche schritte|abmahnung|anzeige erstatten)\b",
    ),
    Rule::new(
        "legal: formal data-protection demand in another language",
        r"\b(?:articulo|artigo|article|artikel)\s*\d+\b.{0,40}\b(?:rgpd|lgpd|dsgvo|gdpr)\b|\bderecho de (?:acceso|supresion|olvido)\b|\bdireito (?:de acesso|ao esquecimento|de eliminacao)\b|\bdroit (?:d'acces|a l'oubli|a l'effacement)\b|\brecht auf (?:auskunft|loschung|vergessenwerden)\b",
    ),
    Rule::new(
        "legal: compensation demanded through a formal claim",
        r"\b(?:claim|demand|seek|seeking|pursue)\w*\b.{0,30}\bdamages\b",
    ),
];

#[cfg(test)]
mod tests {
    use super::super::super::pattern::invalid_patterns;
    use super::*;

    #[test]
    fn legal_patterns_compile() {
        assert!(invalid_patterns(&RULES).is_empty(), "{:?}", invalid_patterns(&RULES));
        for pat in [&THREAT_CONTEXT, &PRODUCT_CONTEXT, &SPORTS_COURT, &COMPLAINT_VERB, &NOT_CONDUCT, &COMMERCIAL] {
            assert!(pat.is_valid());
        }
    }
}
