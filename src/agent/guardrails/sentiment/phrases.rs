//! Multi-word sentiment cues, matched on folded text: "fed up", "I'm done", repeated
//! failures ("third time", "yet again", "keeps crashing"), lost work, ignored requests,
//! time pressure and warm thanks. Each phrase carries a weight, a [`Tier`] and the evidence
//! label the escalation verdict shows.

use super::super::pattern::Pat;
use super::lexicon::Tier::{self, Mild, Moderate, Strong};

/// A weighted phrase. When `unless_before` matches the 40 bytes before a match, that match
/// is not counted (so "tried 3 times" is not a repeated failure of the product).
pub struct Phrase {
    pub pat: Pat,
    pub weight: f32,
    pub tier: Tier,
    pub label: &'static str,
    pub unless_before: Option<Pat>,
}

const fn p(label: &'static str, weight: f32, tier: Tier, pattern: &'static str) -> Phrase {
    Phrase { pat: Pat::new(pattern), weight, tier, label, unless_before: None }
}

const fn p_unless(label: &'static str, weight: f32, tier: Tier, pattern: &'static str, unless: &'static str) -> Phrase {
    Phrase { pat: Pat::new(pattern), weight, tier, label, unless_before: Some(Pat::new(unless)) }
}

const DONE: &str = "sentiment: says they are fed up or done";
const REPEAT: &str = "sentiment: repeated failure";
const LOST: &str = "sentiment: distress about lost work";
const HOSTILE: &str = "sentiment: hostile or profane phrase";
const IGNORED: &str = "sentiment: request ignored";
const MILD: &str = "sentiment: mild frustration or urgency";
const WARM: &str = "sentiment: thanks or praise";

/// Every phrase cue.
pub static PHRASES: [Phrase; 24] = [
    p(
        DONE,
        -0.25,
        Strong,
        r"\b(?:i'?m|i am|we'?re|we are)\s+(?:so\s+|totally\s+|completely\s+|absolutely\s+|just\s+|officially\s+)?done\b(?:\s*(?:[.!]|$)|\s+(?:with (?:this|you|tallyloom|your|it all)|wasting|here|now))",
    ),
    p(
        DONE,
        -0.24,
        Strong,
        r"\bfed up\b|\bhad enough\b|\bsick (?:and tired )?of\b|\bj'en ai marre\b|\bras[- ]le[- ]bol\b|\bestoy (?:harto|harta)\b|\bestou (?:farto|farta|de saco cheio)\b|\bdie nase voll\b|\bes reicht\b",
    ),
    p(
        DONE,
        -0.22,
        Strong,
        r"\b(?:waste|wasting|wasted)\b(?:\s+\w+){0,2}\s+(?:time|day|days|morning|afternoon|evening|week|weeks|hours|money)\b",
    ),
    p(
        DONE,
        -0.2,
        Strong,
        r"\bnever again\b|\b(?:cancel|cancelling|canceling)\b.{0,20}\b(?:because|this garbage|this rubbish|for good)\b",
    ),
    p(
        HOSTILE,
        -0.22,
        Strong,
        r"\b(?:is|what|a|such) (?:a )?(?:complete |total |bad |sick |absolute )?joke\b|\bpiece of (?:junk|crap|shit|garbage|rubbish)\b",
    ),
    p(
        HOSTILE,
        -0.22,
        Strong,
        r"\bwhat the (?:hell|heck|fuck|f\*ck)\b|\bf\*+c?k\w*|\bsh\*t\w*|\b(?:are|r) (?:you|u) (?:kidding|serious|joking)\b",
    ),
    p(
        LOST,
        -0.22,
        Strong,
        r"\b(?:lost|wiped|vanished|disappeared|erased|ate|eaten|destroyed)\b(?:\s+[\w']+){0,4}?\s+(?:all|entire|whole|everything|work|data|entries|timesheets?|weeks?|days?|months?)\b",
    ),
    p(
        LOST,
        -0.22,
        Strong,
        r"\b(?:all|entire|whole|everything|weeks?|days?|months?)\b[^.!?]{0,50}\b(?:has|have|had|was|were|is|are|got)\s+(?:been\s+|just\s+|completely\s+)?(?:lost|vanished|disappeared|wiped|erased|gone)\b",
    ),
    p_unless(
        REPEAT,
        -0.14,
        Moderate,
        r"\b(?:second|third|fourth|fifth|sixth|seventh|tenth|umpteenth|nth|\d+(?:st|nd|rd|th))\s+(?:time|crash|outage|day in a row)\b",
        r"\b(?:first|for the)\s*$",
    ),
    p(
        REPEAT,
        -0.14,
        Moderate,
        r"\b(?:yet|once) again\b|\bagain and again\b|\bover and over\b|\bnot again\b|\bencore une fois\b|\bschon wieder\b|\botra vez\b|\bde novo\b|\boutra vez\b|\b(?:happened|happening|happens|failed|failing|fails|crashed|crashing|crashes|broke|broken|breaks|down|lost|gone|wrong|reset|deleted|disappeared|out|stuck|frozen|froze|empty)\s+again\b|\bdoing (?:it|this|that) again\b|\b(?:deleted|lost|crashed|failed|broke|reset|wiped|erased|logged me out|kicked me out|ate|eaten)\b(?:\s+[\w']+){1,3}\s+again\b",
    ),
    p(
        REPEAT,
        -0.14,
        Moderate,
        r"\bkeeps?\s+(?:on\s+)?(?:happening|crashing|failing|breaking|freezing|logging (?:me|us) out|kicking (?:me|us) out|deleting|losing|disappearing|resetting|sending|eating|dropping)\b",
    ),
    p_unless(
        REPEAT,
        -0.14,
        Moderate,
        r"\b(?:\d+|two|three|four|five|several|multiple|many|countless|numerous)\s+(?:times|emails|tickets|messages|requests|attempts)\b",
        r"\b(?:tried|try|trying|attempted|clicked|refreshed|restarted|resent|reinstalled|asked for it|requested it)\b[^.!?]*$|\b(?:as|x|too|so)\s*$",
    ),
    p(
        IGNORED,
        -0.12,
        Moderate,
        r"\b(?:no one|nobody|noone)\s+(?:\w+\s+){0,2}?(?:replied|answered|responded|answers|replies|responds|care|cares|helps|helped|got back|gets back|bothered|listens)\b|\bstill (?:no (?:reply|answer|response|fix)|waiting|nothing|not fixed|broken)\b|\b(?:no|zero|never got a) (?:reply|response|answer)\b",
    ),
    p(
        MILD,
        -0.06,
        Mild,
        r"\b(?:tried|try|trying|attempted|clicked|refreshed|restarted|resent)\b(?:\s+\w+){0,3}?\s+(?:\d+|two|three|several|multiple|many|a few)\s+times\b|\btried (?:twice|again)\b",
    ),
    p(MILD, -0.04, Mild, r"\bevery (?:single )?time\b|\bconstantly\b|\ball the time\b|\bfor (?:days|weeks|months)\b"),
    p(
        MILD,
        -0.05,
        Mild,
        r"\bhelp\s+(?:pls|plz|please)\b|\bplease help\b|\bhelp\s*!|\bsos\b|\bayuda\b|\bajuda\b|\bhilfe\b",
    ),
    p(
        MILD,
        -0.06,
        Mild,
        r"\bno way (?:to|of)\b|\bno idea what to do\b|\bat a loss\b|\bmakes no sense\b|\bdoesn'?t make (?:any )?sense\b",
    ),
    p(
        MILD,
        -0.04,
        Mild,
        r"\b(?:meeting|call|deadline|presentation|demo|payroll|client call)\s+(?:in|within)\s+(?:an?|one|\d+|two|ten|twenty|thirty|half an)\s+(?:hour|hours|minutes|mins)\b|\bdeadline (?:is )?(?:today|tomorrow|tonight)\b|\burgent(?:ly)?\b|\basap\b",
    ),
    p(MILD, -0.03, Mild, r"\bby (?:mistake|accident)\b|\baccidentally\b"),
    p(MILD, -0.06, Mild, r"\b(?:can'?t|cannot) believe\b|\bgiv(?:e|ing) up\b"),
    p(
        WARM,
        0.08,
        Mild,
        r"\bthank(?:s| you) (?:a lot|so much|very much|heaps|a million)\b|\bmany thanks\b|\bmuch appreciated\b",
    ),
    p(
        WARM,
        0.1,
        Mild,
        r"\b(?:works?|working) (?:great|perfectly|well|brilliantly|beautifully|like a charm)\b|\bwell done\b|\bgreat job\b|\bnice work\b|\bkeep (?:it|up the good work)\b|\bgame[- ]changer\b|\blife ?saver\b",
    ),
    p(WARM, 0.12, Mild, r"\b(?:the|our|my|is the) best\b|\bbest (?:decision|tool|app|thing)\b"),
    p(WARM, 0.04, Mild, r"\bno (?:problem|worries|rush)\b"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_phrase_pattern_compiles() {
        for phrase in &PHRASES {
            assert!(phrase.pat.is_valid(), "{}", phrase.label);
            assert!(phrase.unless_before.as_ref().is_none_or(Pat::is_valid), "{}", phrase.label);
        }
    }
}
