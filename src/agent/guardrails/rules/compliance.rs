//! `compliance_inquiry`: security and vendor questionnaires (CAIQ, SIG, custom assessments),
//! certifications and audit reports (SOC 2, ISO 27001, penetration tests), data processing
//! agreements and sub-processor lists, and questions about regulatory compliance status
//! (GDPR, HIPAA and BAAs, CCPA, PCI DSS …). Factual product-security questions — encryption,
//! data region, backups, the audit log feature, sessions, 2FA, SSO certificates — are not.

use super::super::pattern::{Hit, Pat, Rule, evidence as rule_evidence};

/// Evidence of a compliance inquiry. `raw` is the unfolded message, used for acronyms that
/// only mean something in capitals ("SIG").
pub(super) fn evidence(sentences: &[&str], raw: &str) -> Vec<&'static str> {
    let mut found = rule_evidence(&RULES, sentences);
    if SIG_ACRONYM.is_match(raw) && !found.contains(&QUESTIONNAIRE) {
        found.insert(0, QUESTIONNAIRE);
    }
    found
}

const QUESTIONNAIRE: &str = "compliance: security or vendor questionnaire";

/// "SIG" in capitals is the Shared Assessments questionnaire.
static SIG_ACRONYM: Pat = Pat::new(r"\bSIG\b");

/// A certificate is a compliance matter unless it is the SSO signing certificate.
fn certification_not_sso(hit: &Hit<'_>) -> bool {
    !SSO_CERTIFICATE.is_match(hit.window) && CERT_CONTEXT.is_match(hit.window)
}

static SSO_CERTIFICATE: Pat = Pat::new(
    r"\b(?:saml|signing|x\.?509|ssl|tls|idp|sso|https|okta|entra|azure|metadata)\b.{0,30}\bcertific\w*|\bcertific\w*\b.{0,30}\b(?:expir\w*|rotation|rotate|upload\w*|fingerprint|metadata|idp|single sign-on|sso|saml)\b|\b(?:upload\w*|rotat\w*|renew\w*|replac\w*|install\w*)\s+(?:the\s+|a\s+|your\s+|our\s+)?(?:new\s+|old\s+|updated\s+)?certific",
);

static CERT_CONTEXT: Pat = Pat::new(
    r"\b(?:iso|soc|security|secure|compliance|compliant|audit\w*|hipaa|pci|gdpr|privacy|independent|third[- ]party|accredit\w*|are you|is tallyloom|do you (?:have|hold)|does tallyloom|your|certificacao|certificacion|zertifizier\w*)\b",
);

/// "Compliance" on its own is often a team name; it counts when it asks about Tallyloom.
fn about_vendor(hit: &Hit<'_>) -> bool {
    !OWN_TEAM.is_match(hit.window) || VENDOR.is_match(hit.window)
}

static OWN_TEAM: Pat = Pat::new(r"\b(?:our|my) compliance (?:team|officer|department|lead|manager|people)\b");
static VENDOR: Pat = Pat::new(r"\b(?:you|your|tallyloom|vendor|supplier)\b");

/// Every compliance rule.
static RULES: [Rule; 7] = [
    Rule::new(
        QUESTIONNAIRE,
        r"\b(?:questionnaires?|caiq|hecvat|vsaq|sig (?:lite|core|questionnaire)|(?:security|vendor|supplier|third[- ]party|infosec|information security|risk|privacy|due diligence|it security|cyber ?security)\s+(?:risk\s+)?(?:assessment|review|questionnaire|audit|evaluation|form|survey)s?|due diligence|vendor risk|cuestionario|questionario|fragebogen)\b",
    ),
    Rule::new(
        "compliance: certification or audit report (SOC 2, ISO 27001, pentest)",
        r"\bsoc ?[123]\b|\bsoc ?ii\b|\biso(?:/iec)? ?27\d{3}\b|\biso ?9001\b|\bpen(?:etration)?[- ]?test\w*|\bteste de (?:intrusao|penetracao)\b|\bprueba de penetracion\b|\btest d'intrusion\b|\baudit (?:report|reports|results|findings|certificate|opinion)\b|\battestation\b|\bbridge letter\b|\b(?:pci(?:[- ]dss)?|fedramp|hitrust|tisax|cyber essentials|csa star|irap|nis ?2|ens alto)\b|\bsecurity (?:whitepaper|white paper|documentation|package|pack|report|posture report|trust pack)\b|\btrust (?:center|centre|portal|report)\b",
    ),
    Rule::new("compliance: asks about certifications", r"\bcertif\w*|\baccredit\w*|\bzertifi\w*")
        .guarded(certification_not_sso),
    Rule::new(
        "compliance: data processing agreement or sub-processors",
        r"\bdata processing (?:agreement|addendum|terms)\b|\bdpa\b|\bsub-?processors?\b|\bsub-?contractors? list\b|\bstandard contractual clauses\b|\bsccs\b|\btransfer impact assessment\b|\bdpia\b|\bdata protection impact assessment\b|\brecords? of processing\b|\bavv\b|\bauftragsverarbeitung\w*|\bunterauftragsverarbeiter\b|\bsous-traitants?\b|\bencargad[oa]s? del tratamiento\b|\bsubencargad\w*|\bsuboperador\w*|\bsubprocesador\w*|\bacuerdo de (?:procesamiento|tratamiento) de datos\b|\bacordo de (?:processamento|tratamento) de dados\b|\baccord de traitement des donnees\b",
    ),
    Rule::new(
        "compliance: HIPAA or business associate agreement",
        r"\bhipaa\b|\bbaa\b|\bbusiness associate\b|\bprotected health information\b",
    ),
    Rule::new(
        "compliance: asks whether Tallyloom complies with a regulation or standard",
        r"\b(?:gdpr|rgpd|dsgvo|lgpd|ccpa|cpra|pipeda|hds|pdpa|appi|popia|fisma|ferpa|glba|sox|nist|eu ai act)\b.{0,25}\b(?:complian\w*|certif\w*|ready|conform\w*|konform\w*|adherent|aligned)|\b(?:complian\w*|comply|complies|conform\w*|konform\w*|cumple\w*|cumpre\w*|adhere\w*)\b.{0,30}\b(?:gdpr|rgpd|dsgvo|lgpd|ccpa|cpra|pipeda|hipaa|pci|iso|soc|nist|regulations?|regulatory|laws?|standards?|requirements|frameworks?)\b|\b(?:is|are)\s+(?:you|tallyloom|your (?:product|service|app|platform|company))\s+(?:\w+\s+)?(?:complian\w*|certified|accredited)\b|\bcompliance (?:status|documentation|docs|report|reports|pack|package|certificates?|information|details|questions?|team|requirements)\b|\bdsgvo-konform\b",
    )
    .guarded(about_vendor),
    Rule::new("compliance: regulated-data handling terms", r"\bprocessor agreement\b|\bcontrollers? and processors?\b|\bdata transfer agreement\b"),
];

#[cfg(test)]
mod tests {
    use super::super::super::pattern::invalid_patterns;
    use super::*;

    #[test]
    fn compliance_patterns_compile() {
        assert!(invalid_patterns(&RULES).is_empty(), "{:?}", invalid_patterns(&RULES));
        for pat in [&SIG_ACRONYM, &SSO_CERTIFICATE, &CERT_CONTEXT, &OWN_TEAM, &VENDOR] {
            assert!(pat.is_valid());
        }
    }
}
