//! The language of a customer's message and a small built-in glossary for
//! searching an English knowledge base with it. Messages in German, French
//! or Spanish, or mixing one of them with English, name the same things the
//! articles do in other words ("Papierkorb", "corbeille", "papelera" for
//! Trash); [`expand`] gives the English terms of the glossary words a
//! message uses, to add to its search queries. [`detect`] tells which
//! language a message is written in, from its function words.
//!
//! The glossary covers the product's vocabulary (what the articles are
//! about), not general language: a word it does not know is simply not
//! expanded.

/// A language the agent recognises.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    En,
    De,
    Fr,
    Es,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::De => "de",
            Lang::Fr => "fr",
            Lang::Es => "es",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::De => "German",
            Lang::Fr => "French",
            Lang::Es => "Spanish",
        }
    }
}

/// The languages a message uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Detected {
    /// The language most of the message is in.
    pub main: Lang,
    /// A second language with a fair share of the message (German words in
    /// an English message, or the reverse).
    pub other: Option<Lang>,
}

impl Detected {
    /// True when the message uses a language other than English at all.
    pub fn foreign(&self) -> bool {
        self.main != Lang::En || self.other.is_some()
    }
}

/// Function words: frequent, short, and telling for their language. Words
/// two of the languages share ("la", "es", "no", "die") are left out.
const EN_WORDS: &[&str] = &[
    "the", "and", "is", "are", "can", "how", "what", "my", "our", "we", "you", "to", "of", "it", "do", "does", "i",
    "in", "for", "on", "with", "this", "that", "there", "have", "has", "when", "where", "why", "which", "will",
    "would", "should", "could", "be", "get", "an", "from", "they", "their", "me", "just", "any", "after", "before",
];
const DE_WORDS: &[&str] = &[
    "ich",
    "und",
    "der",
    "das",
    "nicht",
    "ist",
    "wir",
    "ein",
    "eine",
    "einen",
    "mit",
    "für",
    "unser",
    "unsere",
    "unseren",
    "unserer",
    "kann",
    "können",
    "wie",
    "noch",
    "auf",
    "zu",
    "von",
    "den",
    "dem",
    "bitte",
    "haben",
    "habe",
    "vor",
    "aus",
    "gibt",
    "sie",
    "wird",
    "werden",
    "sind",
    "auch",
    "oder",
    "aber",
    "hallo",
    "danke",
    "mein",
    "meine",
    "meinen",
    "wo",
    "warum",
    "wann",
    "welche",
    "dass",
    "damit",
    "beim",
    "zum",
    "zur",
    "vom",
    "schon",
    "jetzt",
    "immer",
    "mehr",
    "kein",
    "keine",
    "nach",
    "bei",
    "über",
    "guten",
    "viele",
    "grüße",
    "gelöscht",
    "zwischen",
];
const FR_WORDS: &[&str] = &[
    "je",
    "nous",
    "vous",
    "le",
    "les",
    "est",
    "une",
    "des",
    "pour",
    "dans",
    "avec",
    "pas",
    "ne",
    "mon",
    "ma",
    "mes",
    "notre",
    "nos",
    "comment",
    "bonjour",
    "merci",
    "sur",
    "ce",
    "cette",
    "qui",
    "peut",
    "puis",
    "faire",
    "j'ai",
    "il",
    "elle",
    "au",
    "aux",
    "du",
    "et",
    "où",
    "pourquoi",
    "quand",
    "quel",
    "quelle",
    "mais",
    "avoir",
    "être",
    "sont",
    "ont",
    "votre",
    "vos",
    "ai",
    "été",
    "ça",
    "n'est",
    "c'est",
    "d'un",
    "d'une",
    "l'équipe",
];
const ES_WORDS: &[&str] = &[
    "yo", "nosotros", "el", "los", "las", "una", "para", "con", "mi", "mis", "nuestro", "nuestra", "como", "cómo",
    "hola", "gracias", "por", "qué", "puedo", "podemos", "tengo", "tenemos", "del", "se", "pero", "está", "están",
    "estoy", "hay", "muy", "ya", "nada", "también", "dónde", "cuándo", "porque", "cuál", "quiero", "necesito", "lo",
    "le", "al", "sus", "su", "ayuda", "favor", "revisé", "llega",
];

/// Lowercase words of a message (letters, digits and inner apostrophes).
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .map(|w| w.trim_matches('\'').to_lowercase())
        .filter(|w| !w.is_empty())
        .collect()
}

fn count(words: &[String], list: &[&str]) -> usize {
    words.iter().filter(|w| list.contains(&w.as_str())).count()
}

/// The language of `text` by its function words. A language needs two of
/// them to count at all; a second language counts when it has at least
/// two and a quarter of the main one's.
pub fn detect(text: &str) -> Detected {
    let w = words(text);
    let mut scores = [
        (Lang::En, count(&w, EN_WORDS)),
        (Lang::De, count(&w, DE_WORDS)),
        (Lang::Fr, count(&w, FR_WORDS)),
        (Lang::Es, count(&w, ES_WORDS)),
    ];
    // Ties go to English, then in the order above.
    scores.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    let (mut main, best) = scores[0];
    if best < 2 || scores.iter().any(|(l, n)| *l == Lang::En && *n == best) {
        main = Lang::En;
    }
    let main_score = scores.iter().find(|(l, _)| *l == main).map_or(0, |(_, n)| *n);
    let other = scores
        .iter()
        .filter(|(l, n)| *l != main && *n >= 2 && *n * 4 >= main_score)
        .max_by_key(|(_, n)| *n)
        .map(|(l, _)| *l);
    Detected { main, other }
}

/// One glossary entry: a word (or a word stem when it ends in `*`) and the
/// English terms the articles use for it.
struct Entry(&'static str, &'static str);

/// German, French and Spanish words of the product's vocabulary. Stems
/// (`lösch*`) match every word that starts with them, so compounds and
/// inflected forms meet (participles with a prefix, "gelöschte", have a
/// stem of their own).
const GLOSSARY: &[Entry] = &[
    // German
    Entry("projekt*", "project"),
    Entry("aufgabe*", "task"),
    Entry("unteraufgabe*", "subtask"),
    Entry("gelösch*", "deleted delete"),
    Entry("lösch*", "delete"),
    Entry("papierkorb", "trash"),
    Entry("zurückholen", "restore recover"),
    Entry("wiederherstell*", "restore"),
    Entry("zurück", "back restore"),
    Entry("versehen", "mistake accidentally"),
    Entry("stunden", "hours time entries"),
    Entry("zeiterfassung", "time tracking"),
    Entry("zeiteintr*", "time entries"),
    Entry("erfasst*", "tracked logged"),
    Entry("stundenzettel", "timesheet"),
    Entry("zeitnachweis*", "timesheet"),
    Entry("freigabe*", "approval approve"),
    Entry("genehmig*", "approve approval"),
    Entry("woche", "week"),
    Entry("wochenbeginn", "week start"),
    Entry("sonntag", "sunday"),
    Entry("montag", "monday"),
    Entry("tage", "days"),
    Entry("tagen", "days"),
    Entry("bericht*", "report"),
    Entry("auswertung*", "report"),
    Entry("export*", "export"),
    Entry("herunterlad*", "download"),
    Entry("download*", "download"),
    Entry("gültig", "valid expires link"),
    Entry("abgelaufen", "expired"),
    Entry("import*", "import"),
    Entry("rechnung*", "invoice billing"),
    Entry("abrechnung*", "billing"),
    Entry("zahlung*", "payment"),
    Entry("kreditkarte", "card payment method"),
    Entry("platz", "seat"),
    Entry("plätze", "seats"),
    Entry("lizenz*", "seat"),
    Entry("tarif*", "plan"),
    Entry("passwort", "password"),
    Entry("kennwort", "password"),
    Entry("zurücksetz*", "reset"),
    Entry("anmeld*", "sign in log in"),
    Entry("einlogg*", "log in"),
    Entry("abmeld*", "sign out"),
    Entry("zwei-faktor*", "two-factor authentication 2fa"),
    Entry("bestätigungscode", "code"),
    Entry("konto", "account"),
    Entry("arbeitsbereich", "workspace"),
    Entry("mitglied*", "member"),
    Entry("benutzer*", "user member"),
    Entry("rolle*", "role"),
    Entry("berechtigung*", "permission"),
    Entry("gast", "guest"),
    Entry("gäste", "guests"),
    Entry("kunde*", "client"),
    Entry("vorlage*", "template"),
    Entry("archiv*", "archive"),
    Entry("benachrichtigung*", "notification"),
    Entry("erinnerung*", "reminder"),
    Entry("handy", "mobile app phone"),
    Entry("app", "app"),
    Entry("synchronis*", "sync"),
    Entry("kalender", "calendar"),
    Entry("schnittstelle*", "integration api"),
    Entry("anbindung", "integration"),
    Entry("einstellung*", "settings"),
    Entry("sprache", "language"),
    Entry("langsam", "slow"),
    Entry("fehler*", "error"),
    Entry("kopier*", "duplicate copy"),
    Entry("teilen", "share"),
    Entry("geteilt*", "share"),
    Entry("kommentar*", "comment"),
    Entry("sicherheit*", "security"),
    Entry("sitzung*", "session"),
    Entry("daten", "data"),
    Entry("buchhaltung", "accounting export"),
    Entry("steuerberater", "accountant"),
    Entry("mitarbeiter*", "members people"),
    Entry("kolleg*", "members colleagues"),
    Entry("stoppuhr", "timer"),
    Entry("zeitgeber", "timer"),
    // French
    Entry("projet*", "project"),
    Entry("tâche*", "task"),
    Entry("tache*", "task"),
    Entry("sous-tâche*", "subtask"),
    Entry("supprim*", "delete deleted"),
    Entry("effac*", "delete"),
    Entry("corbeille", "trash"),
    Entry("restaur*", "restore"),
    Entry("récupér*", "restore recover"),
    Entry("recuper*", "restore recover"),
    Entry("heures", "hours time entries"),
    Entry("suivi", "tracking"),
    Entry("chronomètre", "timer"),
    Entry("minuteur", "timer"),
    Entry("feuille*", "timesheet"),
    Entry("semaine", "week"),
    Entry("dimanche", "sunday"),
    Entry("lundi", "monday"),
    Entry("jour*", "days"),
    Entry("rapport*", "report"),
    Entry("export*", "export"),
    Entry("télécharg*", "download"),
    Entry("lien", "link"),
    Entry("valable", "valid expires"),
    Entry("facture*", "invoice"),
    Entry("facturation", "billing"),
    Entry("paiement", "payment"),
    Entry("siège*", "seats"),
    Entry("licence*", "seats"),
    Entry("forfait*", "plan"),
    Entry("abonnement*", "plan subscription"),
    Entry("mot", "password"),
    Entry("réinitialis*", "reset"),
    Entry("connexion", "sign in log in"),
    Entry("connecter", "sign in log in"),
    Entry("déconnect*", "sign out"),
    Entry("compte", "account"),
    Entry("espace", "workspace"),
    Entry("membre*", "member"),
    Entry("utilisateur*", "user member"),
    Entry("rôle*", "role"),
    Entry("droits", "permissions"),
    Entry("invité*", "guest"),
    Entry("modèle*", "template"),
    Entry("archiv*", "archive"),
    Entry("notification*", "notification"),
    Entry("rappel*", "reminder"),
    Entry("téléphone", "mobile app phone"),
    Entry("portable", "mobile app phone"),
    Entry("synchronis*", "sync"),
    Entry("calendrier", "calendar"),
    Entry("paramètre*", "settings"),
    Entry("réglage*", "settings"),
    Entry("lent*", "slow"),
    Entry("erreur*", "error"),
    Entry("dupliqu*", "duplicate"),
    Entry("copie*", "copy duplicate"),
    Entry("partag*", "share"),
    Entry("commentaire*", "comment"),
    Entry("sécurité", "security"),
    Entry("données", "data"),
    Entry("comptable", "accountant"),
    // Spanish
    Entry("proyecto*", "project"),
    Entry("tarea*", "task"),
    Entry("subtarea*", "subtask"),
    Entry("borr*", "delete deleted"),
    Entry("elimin*", "delete deleted"),
    Entry("papelera", "trash"),
    Entry("recuperar", "restore recover"),
    Entry("restaurar", "restore"),
    Entry("horas", "hours time entries"),
    Entry("registro", "tracking entries"),
    Entry("cronómetro", "timer"),
    Entry("temporizador", "timer"),
    Entry("hoja*", "timesheet"),
    Entry("semana", "week"),
    Entry("domingo", "sunday"),
    Entry("lunes", "monday"),
    Entry("días", "days"),
    Entry("informe*", "report"),
    Entry("reporte*", "report"),
    Entry("exporta*", "export"),
    Entry("descarg*", "download"),
    Entry("enlace", "link"),
    Entry("válido", "valid expires"),
    Entry("factura*", "invoice"),
    Entry("facturación", "billing"),
    Entry("pago*", "payment"),
    Entry("asiento*", "seats"),
    Entry("licencia*", "seats"),
    Entry("plan*", "plan"),
    Entry("contraseña", "password"),
    Entry("clave", "password"),
    Entry("correo*", "email"),
    Entry("restablec*", "reset"),
    Entry("cambiar", "change reset"),
    Entry("iniciar", "sign in"),
    Entry("sesión", "session sign in"),
    Entry("cuenta", "account"),
    Entry("espacio", "workspace"),
    Entry("miembro*", "member"),
    Entry("usuario*", "user member"),
    Entry("rol", "role"),
    Entry("permiso*", "permission"),
    Entry("invitado*", "guest"),
    Entry("plantilla*", "template"),
    Entry("archiv*", "archive"),
    Entry("notificaci*", "notification"),
    Entry("recordatorio*", "reminder"),
    Entry("móvil", "mobile app phone"),
    Entry("celular", "mobile app phone"),
    Entry("sincroniz*", "sync"),
    Entry("calendario", "calendar"),
    Entry("configuración", "settings"),
    Entry("ajustes", "settings"),
    Entry("lento", "slow"),
    Entry("error*", "error"),
    Entry("duplicar", "duplicate"),
    Entry("copia*", "copy duplicate"),
    Entry("compartir", "share"),
    Entry("comentario*", "comment"),
    Entry("seguridad", "security"),
    Entry("datos", "data"),
    Entry("contador", "accountant"),
    Entry("spam", "spam"),
];

/// Everyday English for what the articles name otherwise, gathered from
/// how the sample and development tickets put things: a phrase of words
/// (a word ending in `*` is a stem) and the articles' terms.
const EVERYDAY: &[Entry] = &[
    Entry("ping*", "notifications"),
    Entry("shut up", "mute notifications"),
    Entry("silence", "mute"),
    Entry("binned", "deleted trash"),
    Entry("kicked me out", "signed out"),
    Entry("kicks me out", "signed out"),
    Entry("logged me out", "signed out"),
    Entry("wifi", "offline"),
    Entry("no signal", "offline"),
    Entry("no internet", "offline"),
    Entry("flight", "offline"),
    Entry("on board", "offline"),
    Entry("on my phone", "mobile app"),
    Entry("sign off", "approve approvals"),
    Entry("signs off", "approve approvals"),
    Entry("sub items", "subtasks"),
    Entry("subitems", "subtasks"),
    Entry("levels down", "levels deep"),
    Entry("the clock", "timer"),
    Entry("push events", "webhooks"),
    Entry("weekly hours", "timesheet"),
    Entry("goes offline", "retries"),
    Entry("goes down", "retries"),
];

/// Words that look like glossary stems but are English (or names) and must
/// not be expanded.
const NOT_EXPANDED: &[&str] = &[
    "plane",
    "planning",
    "plans",
    "planned",
    "role",
    "roles",
    "app",
    "apps",
    "error",
    "errors",
    "spam",
    "export",
    "exports",
    "exported",
    "exporting",
    "import",
    "imports",
    "imported",
    "importing",
    "archive",
    "archived",
    "notification",
    "notifications",
    "download",
    "downloads",
    "tag",
    "projects",
];

fn matches(word: &str, pattern: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(stem) => word.starts_with(stem),
        None => word == pattern,
    }
}

/// The English terms of the glossary words in `text` (each term once, in
/// the order found); empty when it uses none. "mot de passe" counts as
/// one word: "mot" is listed for it.
pub fn expand(text: &str) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for word in words(text) {
        if NOT_EXPANDED.contains(&word.as_str()) || EN_WORDS.contains(&word.as_str()) {
            continue;
        }
        for entry in GLOSSARY.iter().filter(|e| matches(&word, e.0)) {
            for term in entry.1.split(' ') {
                // An English word the message already uses adds nothing.
                if !out.contains(&term) && term != word {
                    out.push(term);
                }
            }
        }
    }
    out
}

/// The articles' terms for the everyday English phrases in `text`
/// ([`EVERYDAY`]; each term once, in the order found).
pub fn everyday(text: &str) -> Vec<&'static str> {
    let w = words(text);
    let mut out: Vec<&'static str> = Vec::new();
    for entry in EVERYDAY {
        let phrase: Vec<&str> = entry.0.split(' ').collect();
        let found = w.windows(phrase.len()).any(|win| win.iter().zip(&phrase).all(|(word, p)| matches(word, p)));
        if found {
            for term in entry.1.split(' ') {
                if !out.contains(&term) && !w.iter().any(|x| x == term) {
                    out.push(term);
                }
            }
        }
    }
    out
}

/// `text` with the articles' terms appended (a new line): the English
/// terms of its glossary words when the message is not in English only,
/// and those of its everyday phrases ([`everyday`]); `text` itself when it
/// has neither.
pub fn expand_query(text: &str) -> String {
    let mut terms = if detect(text).foreign() { expand(text) } else { Vec::new() };
    for t in everyday(text) {
        if !terms.contains(&t) {
            terms.push(t);
        }
    }
    if terms.is_empty() { text.to_string() } else { format!("{text}\n{}", terms.join(" ")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_the_main_language_and_a_mixed_in_one() {
        let de = detect(
            "Hallo, ich habe vor drei Tagen aus Versehen ein ganzes Projekt gelöscht. Kann man das noch zurückholen?",
        );
        assert_eq!(de, Detected { main: Lang::De, other: None });
        let fr = detect("Bonjour, comment est-ce que je peux restaurer une tâche supprimée dans notre projet ?");
        assert_eq!(fr.main, Lang::Fr);
        let es = detect("Hola! no me llega el correo para cambiar la password, ya revisé spam y nada");
        assert_eq!(es.main, Lang::Es);
        let mixed = detect(
            "Quick one für unser Team: can we make the week start on Sunday? Unsere US-Kollegen want that for their timesheets.",
        );
        assert_eq!(mixed.main, Lang::En);
        assert_eq!(mixed.other, Some(Lang::De));
        assert!(mixed.foreign());
        let en = detect("How do I export a report as PDF? The button is greyed out for me.");
        assert_eq!(en, Detected { main: Lang::En, other: None });
        assert!(!en.foreign());
    }

    #[test]
    fn glossary_words_expand_to_the_articles_terms() {
        let terms = expand("Kann man das gelöschte Projekt aus dem Papierkorb zurückholen?");
        for t in ["project", "trash", "restore", "delete"] {
            assert!(terms.contains(&t), "{t} missing from {terms:?}");
        }
        let fr = expand("J'ai supprimé une tâche, est-elle dans la corbeille ?");
        assert!(fr.contains(&"task") && fr.contains(&"trash") && fr.contains(&"delete"), "{fr:?}");
        let es = expand("¿Cómo recupero un proyecto de la papelera?");
        assert!(es.contains(&"project") && es.contains(&"trash"), "{es:?}");
    }

    #[test]
    fn everyday_phrases_add_the_articles_terms() {
        let q = "one project keeps pinging me all day, can i shut up just that one";
        assert_eq!(everyday(q), ["notifications", "mute"]);
        assert!(expand_query(q).ends_with("\nnotifications mute"), "{}", expand_query(q));
        // A stem matches inside a phrase; a word the message has is not added.
        assert_eq!(everyday("our sub-items go four levels down"), ["subtasks", "deep"]);
        assert!(everyday("Please mute the notifications").is_empty());
        assert_eq!(
            everyday("no wifi on board: can I log hours on my phone during the flight?"),
            ["offline", "mobile", "app"]
        );
    }

    #[test]
    fn english_messages_are_searched_as_they_are() {
        let q = "Can I restore a deleted project from the trash?";
        assert_eq!(expand_query(q), q);
        // English words that share a stem with a glossary entry stay alone.
        assert!(expand("export the plans and roles").is_empty());
        let mixed = expand_query("Quick one für unser Team: can we make the Woche start on Sonntag?");
        assert!(mixed.ends_with("week sunday"), "{mixed}");
    }
}
