//! `human_requested`: the customer explicitly asks for a person to take over — a human, a
//! real person, someone from the team, a representative, a manager, their CSM, or a call —
//! and, on WhatsApp only, a message that is just "agent" or "human". Asking whether Robin is
//! a bot, or "agent"/"human" inside a product question ("our support agents", "the human
//! resources project"), is not a request.

use super::super::pattern::{Hit, Pat, Rule, evidence as rule_evidence};
use super::super::text::fold;
use super::Channel;

/// Evidence of a request for a person. `text` is the raw message body (without subject).
pub(super) fn evidence(channel: Channel, text: &str, sentences: &[&str]) -> Vec<&'static str> {
    let mut found = Vec::new();
    if channel == Channel::Whatsapp && is_bare_keyword(text) {
        found.push("human: bare \"agent\"/\"human\" on WhatsApp");
    }
    for label in rule_evidence(&RULES, sentences) {
        if !found.contains(&label) {
            found.push(label);
        }
    }
    found
}

/// True when a message is only "agent" or "human" (any case, punctuation, "please"), or a
/// close variant such as "real person" or "humano".
pub fn is_bare_keyword(text: &str) -> bool {
    let folded = fold(text);
    let cleaned: String =
        folded.chars().map(|c| if c.is_alphanumeric() || c == '\'' { c } else { ' ' }).collect::<String>();
    let words: Vec<&str> = cleaned
        .split_whitespace()
        .filter(|w| {
            !matches!(*w, "please" | "pls" | "plz" | "por" | "favor" | "bitte" | "now" | "s'il" | "vous" | "plait")
        })
        .collect();
    matches!(
        words.join(" ").as_str(),
        "agent"
            | "human"
            | "a human"
            | "an agent"
            | "human agent"
            | "live agent"
            | "real agent"
            | "real person"
            | "a real person"
            | "person"
            | "representative"
            | "operator"
            | "humano"
            | "agente"
            | "humain"
            | "mensch"
            | "atendente"
    )
}

/// Rejects identity questions ("am I talking to a human?"), negated requests ("I don't need
/// to talk to anyone") and people on the customer's own side ("someone else", "someone in
/// my team").
fn asks_for_person(hit: &Hit<'_>) -> bool {
    let before = hit.before();
    !IDENTITY.is_match(before) && !NEGATED.is_match(before) && !OWN_SIDE.is_match(&hit.window[hit.end..])
}

static IDENTITY: Pat = Pat::new(
    r"\b(?:am i|are we|is this|was i|have i been|are you|is it|r u|are u)\s*(?:still\s+|really\s+|actually\s+|even\s+)?$",
);
static NEGATED: Pat = Pat::new(r"\b(?:don't|do not|dont|no need|never|not|doesn't|won't|without)\b");
static OWN_SIDE: Pat = Pat::new(
    r"^\s*(?:else|other)\b|^s?\s+(?:in|on|from|at|of)\s+(?:my|our|the|another|other)\s+(?:team|company|workspace|project|department|org\w*|side)\b|^\s+(?:to approve|to sign|to review my|who)\b",
);

/// Like [`asks_for_person`], and not a how-to question ("how can someone contact …").
fn asks_for_contact(hit: &Hit<'_>) -> bool {
    asks_for_person(hit) && !HOW.is_match(hit.before())
}

static HOW: Pat = Pat::new(r"\bhow (?:do|can|does|could|should|would)\b");

/// Who the customer asks for, when the verb already makes it a request.
macro_rules! who {
    () => {
        r"(?:a |an |the |some |one of your |any )?(?:real |actual |live |human |proper |genuine |senior |support |technical |customer |sales |billing )?(?:human(?: being)?s?|(?:real|actual|live) people|person|someone|somebody|anyone|anybody|representative|rep|operator|agent|manager|supervisor|csm|customer success manager|account manager|account executive|team ?member|staff member|specialist|engineer|member of (?:your|the) (?:\w+ )?team|your (?:team|staff|support|people|side|company|colleagues?|support (?:team|staff|people))|(?:our|my) (?:csm|customer success manager|account manager|account executive))\b"
    };
}

/// Every rule for an explicit request for a person.
static RULES: [Rule; 12] = [
    Rule::new(
        "human: asks to speak or talk to a person",
        concat!(
            r"\b(?:speak|speaking|talk|talking|chat|chatting|discuss (?:this|it)|get in touch|be in touch|connected|deal|dealing|work|working|communicate|correspond|go through (?:this|it)|sort (?:this|it) out)\b(?:\s+(?:it|this|things|that|this one)\s+(?:through|over))?\s+(?:directly\s+)?(?:to|with)\s+",
            who!()
        ),
    )
    .guarded(asks_for_person),
    Rule::new(
        "human: asks to be put through or escalated to a person",
        concat!(
            r"\b(?:put|transfer|connect|pass|hand|forward|escalate|route|switch|bring|get)\s+(?:me|us|this|it|my (?:case|ticket|issue|request|question)|the (?:case|ticket|conversation|chat|issue))\s+(?:through |over |on |off |up |in touch |in contact )?(?:to|with)\s+",
            who!()
        ),
    )
    .guarded(asks_for_person),
    Rule::new(
        "human: asks to escalate",
        r"\b(?:please\s+|can you\s+|could you\s+|i want you to\s+|i'd like you to\s+|i need you to\s+)escalate\s+(?:this|it|my (?:case|ticket|issue|request))\b",
    )
    .guarded(asks_for_person),
    Rule::new(
        "human: asks for a human, a representative or their CSM",
        r"\b(?:want|need|prefer|like|request|requesting|ask for|asking for|demand|get me|give me|can i (?:have|get)|could i (?:have|get)|i'd rather have|bring in|loop in|loop)\s+(?:to (?:speak|talk|chat) (?:to|with) )?(?:a |an |the |some )?(?:real |actual |live |human |proper |genuine )?(?:human(?: being)?s?|(?:real|actual|live|genuine) (?:person|people|agent|human)|human (?:agent|support)|representative|operator|supervisor|your (?:manager|supervisor)|someone (?:from|on|at|in) (?:your|the tallyloom|tallyloom)|somebody (?:from|on|at|in) (?:your|tallyloom)|a person (?:from|on|at) (?:your|tallyloom)|(?:your|our|my) csm|(?:our|my) (?:customer success|account) manager|a member of (?:your|the) (?:\w+ )?team)\b",
    )
    .guarded(asks_for_person),
    Rule::new(
        "human: asks to loop someone in",
        r"\bloop\s+(?:someone|somebody|a person|a human|our csm|my csm|your team|someone from your team)\s+in\b|\bloop in\s+(?:someone|somebody|a person|a human|our csm|my csm|your team)\b",
    ),
    Rule::new(
        "human: asks whether there is a person to talk to",
        r"\b(?:someone|somebody|a person|a human|anyone|a real person|an actual person|a representative|an agent|a manager)\b(?:\s+(?:at|from|on|in) (?:tallyloom|your (?:side|team|company)))?\s+(?:i|we)\s+(?:can|could|might)\s+(?:speak|talk|chat)\b",
    ),
    Rule::new(
        "human: asks for someone to call or contact them",
        r"\b(?:can|could|would|will|please|have|get|need|want|i'd like|we'd like)\b.{0,15}\b(?:someone|somebody|a person|a human|anyone|one of you|your team|a real person|our csm|my csm|our account manager)\b(?:\s+(?:from|on|at|in) (?:your|the|tallyloom)(?:\s+\w+){0,2}?)?\s+(?:please\s+)?(?:call|phone|ring|contact|reach out|get in touch|get back to|be in touch|follow up|give (?:me|us) a call|talk (?:this|it|things) (?:through|over))\b|\b(?:someone|somebody|a person)\s+(?:from|on|at)\s+(?:your|tallyloom)\b(?:\s+\w+){0,2}?\s+(?:look (?:at|into)|review|check|help|take (?:a look|over)|handle)\b",
    )
    .guarded(asks_for_contact),
    Rule::new(
        "human: asks for a call",
        r"\b(?:prefer|rather have|'d like|would like|want|need|book|schedule|arrange|set up|setup|organi[sz]e|request|jump on|hop on|get on|can we (?:have|do|get)|could we (?:have|do|get)|let's (?:have|do|get)|is a|give (?:me|us))\s+(?:a |an )?(?:quick |short |brief |phone |video |zoom |teams |google meet |\d+[- ]minute |onboarding )?(?:call|phone call|video call|video chat|zoom(?: call)?|teams call|google meet|screen ?share|meeting with (?:you|someone|somebody|your|a|one))\b|\b(?:call|phone|ring)\s+(?:me|us)\b|\bgive (?:me|us) a (?:call|ring)\b|\bover the phone\b",
    )
    .guarded(asks_for_person),
    Rule::new(
        "human: asks to be given someone who can help",
        r"\b(?:get|find|give|bring|send)\s+(?:me|us)\s+(?:a\s+)?(?:someone|somebody|a person|a human|a real person|an actual person|a human being|someone who|somebody who)\b|\b(?:bot|ai|robot|chatbot|assistant|automated (?:replies|answers))\b.{0,15}\b(?:isn't|is not|isnt|doesn't|does not|can't|cannot|not)\s+(?:\w+\s+)?(?:help\w*|understand\w*|get(?:ting)? it)\b",
    )
    .guarded(asks_for_person),
    Rule::new(
        "human: asks to bring a person into the conversation",
        r"\b(?:get|bring|add|invite|pull|loop)\s+(?:our|my|your|a|an|the|someone|somebody)\s+(?:account manager|csm|customer success manager|human|real person|representative|support (?:engineer|specialist|person|agent)|(?:someone|somebody) from your (?:team|side))\s+(?:on|in|into|onto|involved|to join|here)\b",
    ),
    Rule::new(
        "human: refuses the bot",
        r"\b(?:stop|enough with|done with|tired of|no more|don't want|do not want|dont want)\s+(?:talking to |chatting with |sending me |these |the |this |your |a |an )?(?:bot|ai|robot|machine|automated)\w*|\b(?:human|person|people),? not (?:a |the |some |your )?(?:bot|ai|robot|machine)\b",
    ),
    Rule::new(
        "human: asks for a person in Spanish, Portuguese, French or German",
        r"\b(?:hablar|comunicarme|contactar|charlar)\s+con\s+(?:una persona|un humano|alguien|un agente|un asesor|un representante|un operador|un ser humano)\b|\b(?:quiero|necesito|prefiero)\s+(?:hablar con\s+)?(?:una persona|un humano|un agente|un asesor|un representante)\b|\b(?:persona|humano) real\b|\b(?:quiero|prefiero|necesito|podemos|agendar|programar)\s+(?:una\s+)?llamada\b|\bfalar\s+com\s+(?:uma pessoa|um humano|alguem|um atendente|um agente|um representante|um ser humano)\b|\b(?:quero|preciso|prefiro)\s+(?:falar com\s+)?(?:uma pessoa|um humano|um atendente|um agente)\b|\batendente humano\b|\bpessoa de verdade\b|\b(?:quero|prefiro|podemos|agendar|marcar)\s+(?:uma\s+)?(?:ligacao|chamada)\b|\bparler\s+(?:a|avec)\s+(?:un humain|une personne|quelqu'un|un conseiller|une conseillere|un agent|un etre humain|une vraie personne|un vrai humain|un responsable|un operateur)\b|\b(?:je veux|je voudrais|j'aimerais|je prefere)\s+(?:parler a\s+)?(?:un humain|une personne|un conseiller|un agent)\b|\b(?:voudrais|prefere|preferons|aimerais|planifier|organiser|programmer)\s+(?:un\s+)?appel\b|\bmit\s+(?:einem menschen|einer person|jemandem|einem mitarbeiter|einer mitarbeiterin|einem echten menschen|einem berater|einer beraterin|einem ansprechpartner)\b.{0,20}\b(?:sprechen|reden|telefonieren)\b|\b(?:echten|richtigen) menschen\b|\b(?:mochte|will|brauche|hatte gern|wunsche)\b.{0,20}\b(?:einen menschen|eine person|einen mitarbeiter|einen anruf|einen ruckruf|ein telefonat)\b",
    ),
];

#[cfg(test)]
mod tests {
    use super::super::super::pattern::invalid_patterns;
    use super::*;

    #[test]
    fn human_patterns_compile() {
        assert!(invalid_patterns(&RULES).is_empty(), "{:?}", invalid_patterns(&RULES));
        for pat in [&IDENTITY, &NEGATED, &OWN_SIDE, &HOW] {
            assert!(pat.is_valid());
        }
    }

    #[test]
    fn bare_keywords_are_recognised() {
        for text in ["Agent", "HUMAN", "human!!", "agent please", " Agent. ", "Human, please?", "humano"] {
            assert!(is_bare_keyword(text), "{text}");
        }
        for text in ["agent permissions?", "human resources", "", "are you human?"] {
            assert!(!is_bare_keyword(text), "{text}");
        }
    }
}
