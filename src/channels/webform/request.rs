//! The body of `POST /support/api/tickets`, checked: `TicketRequest` (a
//! valid submission), `Submission` (valid, or caught by the honeypot),
//! `FieldError` and `RequestError`, the one error of this boundary, with
//! the HTTP status to answer with. The server renders the errors as an
//! RFC 7807 document whose `errors` array holds the `FieldError`s
//! (`{field, message}`), which the widget shows next to its fields.
//!
//! The body is a JSON object with exactly these members (`widget.js` sends
//! all of them):
//!
//! | member       | rule (after trimming surrounding whitespace)                     |
//! |--------------|------------------------------------------------------------------|
//! | `name`       | required, 1–100 characters, no control characters                |
//! | `email`      | required, `EmailAddress::parse`                                  |
//! | `phone`      | optional (absent, null or blank); else `PhoneNumber::parse`      |
//! | `subject`    | required, 1–200 characters, no control characters                |
//! | `category`   | required, one of [`Category::ALL`]'s ids                         |
//! | `message`    | required, 10–5000 characters; line breaks and tabs allowed, no   |
//! |              | other control characters; CRLF and CR become LF                  |
//! | `website`    | the honeypot: absent, null or blank                              |
//! | `widget_key` | required, 1–128 of `A-Z a-z 0-9 _ - .`; the caller maps it to a  |
//! |              | tenant                                                           |
//!
//! Characters are Unicode scalar values (what `[...s].length` counts in
//! JavaScript). Every problem with the members is reported at once, in form
//! order, then unknown and repeated members. Messages are written for the
//! person filling in the form: the widget shows each next to its field.
//!
//! Honeypot: a filled `website` (any value but null or a blank string)
//! makes the result `Submission::Spam`, whatever else the body holds. The
//! caller should answer exactly as for a stored ticket (201 with a receipt
//! for a fresh random id) and store nothing: telling a bot it was caught
//! only teaches it to skip the field.

use super::category::Category;
use super::json_object::JsonBody;
use crate::domain::{EmailAddress, PhoneNumber};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;

/// Largest body accepted, in bytes: room for 5000 characters written as
/// JSON `\uXXXX` surrogate pairs, and the other fields. Bigger bodies are
/// refused before parsing; the HTTP layer should cap reads at this too.
pub const MAX_REQUEST_BYTES: usize = 128 * 1024;
pub const NAME_MAX_CHARS: usize = 100;
pub const SUBJECT_MAX_CHARS: usize = 200;
pub const MESSAGE_MIN_CHARS: usize = 10;
pub const MESSAGE_MAX_CHARS: usize = 5000;
pub const WIDGET_KEY_MAX_CHARS: usize = 128;
/// The honeypot member's name.
pub const HONEYPOT_FIELD: &str = "website";

/// The members the body may have, in form order.
pub const FIELDS: [&str; 8] =
    ["name", "email", "phone", "subject", "category", "message", HONEYPOT_FIELD, "widget_key"];

/// Unknown or repeated member names are echoed back cut to this length.
const ECHOED_NAME_MAX_CHARS: usize = 64;
/// At most this many unknown or repeated members are reported.
const MAX_EXTRA_ERRORS: usize = 20;

/// One problem with one member of the body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The member's name (as sent, cut to 64 characters for unknown ones);
    /// empty for a remark about the body as a whole.
    pub field: String,
    /// What to fix, addressed to the person filling in the form.
    pub message: String,
}

impl FieldError {
    fn new(field: &str, message: impl Into<String>) -> Self {
        Self { field: field.chars().take(ECHOED_NAME_MAX_CHARS).collect(), message: message.into() }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RequestError {
    #[error("the request body is {size} bytes; at most {MAX_REQUEST_BYTES} are accepted")]
    TooLarge { size: usize },
    #[error("the request body is not valid UTF-8")]
    NotUtf8,
    #[error("the request body is not valid JSON: {0}")]
    Malformed(String),
    #[error("the request body is JSON but not an object")]
    NotAnObject,
    #[error("the submission has {} invalid field(s): {}", .0.len(), summary(.0))]
    Invalid(Vec<FieldError>),
}

fn summary(errors: &[FieldError]) -> String {
    errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ")
}

impl RequestError {
    /// The HTTP status to answer with: 413, 422 for field errors, else 400.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::TooLarge { .. } => 413,
            Self::Invalid(_) => 422,
            Self::NotUtf8 | Self::Malformed(_) | Self::NotAnObject => 400,
        }
    }

    /// The field errors, empty unless `Invalid`.
    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            Self::Invalid(errors) => errors,
            _ => &[],
        }
    }
}

/// A valid submission: every member checked, trimmed and normalised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TicketRequest {
    pub name: String,
    pub email: EmailAddress,
    pub phone: Option<PhoneNumber>,
    pub subject: String,
    pub category: Category,
    /// Line breaks normalised to `\n`.
    pub message: String,
    /// Which tenant's form this is: the caller resolves it (an unknown key
    /// should be answered like a field error on `widget_key`).
    pub widget_key: String,
}

/// What a well-formed body turned out to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Submission {
    Ticket(TicketRequest),
    /// The honeypot was filled: answer as if stored, store nothing. Carries
    /// the widget key if it was valid, for counting spam per form.
    Spam {
        widget_key: Option<String>,
    },
}

impl TicketRequest {
    /// Parses and checks the raw body of `POST /support/api/tickets`.
    pub fn parse(body: &[u8]) -> Result<Submission, RequestError> {
        if body.len() > MAX_REQUEST_BYTES {
            return Err(RequestError::TooLarge { size: body.len() });
        }
        let text = std::str::from_utf8(body).map_err(|_| RequestError::NotUtf8)?;
        match JsonBody::parse(text).map_err(|e| RequestError::Malformed(e.to_string()))? {
            JsonBody::NotAnObject => Err(RequestError::NotAnObject),
            JsonBody::Object(members) => check(members),
        }
    }
}

fn check(members: Vec<(String, Value)>) -> Result<Submission, RequestError> {
    let mut known: HashMap<&'static str, Value> = HashMap::new();
    let mut extra = Vec::new();
    for (key, value) in members {
        match FIELDS.iter().find(|f| **f == key) {
            Some(field) if known.contains_key(field) => {
                extra.push(FieldError::new(field, "This field was sent more than once."));
            }
            Some(field) => {
                known.insert(field, value);
            }
            None => extra.push(FieldError::new(&key, "This form has no such field.")),
        }
    }
    let widget_key = widget_key(known.get("widget_key"));
    if honeypot_filled(known.get(HONEYPOT_FIELD)) {
        return Ok(Submission::Spam { widget_key: widget_key.ok() });
    }

    let name = text(known.get("name"), "Please enter your name.", NAME_MAX_CHARS);
    let email = text(known.get("email"), "Please enter your email address.", usize::MAX).and_then(|s| {
        EmailAddress::parse(&s).map_err(|_| "Please enter a valid email address, like name@example.com.".to_string())
    });
    let phone = phone(known.get("phone"));
    let subject = text(known.get("subject"), "Please add a subject.", SUBJECT_MAX_CHARS);
    let category = category(known.get("category"));
    let message = message(known.get("message"));
    let mut errors = Vec::new();
    note(&mut errors, "name", &name);
    note(&mut errors, "email", &email);
    note(&mut errors, "phone", &phone);
    note(&mut errors, "subject", &subject);
    note(&mut errors, "category", &category);
    note(&mut errors, "message", &message);
    note(&mut errors, "widget_key", &widget_key);
    let omitted = extra.len().saturating_sub(MAX_EXTRA_ERRORS);
    errors.extend(extra.into_iter().take(MAX_EXTRA_ERRORS));
    if omitted > 0 {
        errors.push(FieldError::new("", format!("{omitted} more unknown or repeated fields.")));
    }

    match (name, email, phone, subject, category, message, widget_key) {
        (Ok(name), Ok(email), Ok(phone), Ok(subject), Ok(category), Ok(message), Ok(widget_key))
            if errors.is_empty() =>
        {
            Ok(Submission::Ticket(TicketRequest { name, email, phone, subject, category, message, widget_key }))
        }
        _ => Err(RequestError::Invalid(errors)),
    }
}

fn note<T>(errors: &mut Vec<FieldError>, field: &str, result: &Result<T, String>) {
    if let Err(message) = result {
        errors.push(FieldError::new(field, message.as_str()));
    }
}

fn honeypot_filled(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => !s.trim().is_empty(),
        Some(_) => true,
    }
}

const NOT_TEXT: &str = "This field must be text.";
const CONTROL_CHARS: &str = "This contains characters that can't be accepted (control characters).";

/// A required single-line text member: trimmed, 1 to `max` characters,
/// no control characters.
fn text(value: Option<&Value>, missing: &str, max: usize) -> Result<String, String> {
    let s = match value {
        None | Some(Value::Null) => return Err(missing.to_string()),
        Some(Value::String(s)) => s.trim(),
        Some(_) => return Err(NOT_TEXT.to_string()),
    };
    if s.is_empty() {
        return Err(missing.to_string());
    }
    if s.chars().any(char::is_control) {
        return Err(CONTROL_CHARS.to_string());
    }
    if s.chars().count() > max {
        return Err(format!("Please keep this to {max} characters or fewer."));
    }
    Ok(s.to_string())
}

fn phone(value: Option<&Value>) -> Result<Option<PhoneNumber>, String> {
    let s = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => s.trim(),
        Some(_) => return Err(NOT_TEXT.to_string()),
    };
    if s.is_empty() {
        return Ok(None);
    }
    PhoneNumber::parse(s).map(Some).map_err(|_| {
        "Please enter the number in international format, starting with + and the country code \
         (for example +31 20 808 4417)."
            .to_string()
    })
}

fn category(value: Option<&Value>) -> Result<Category, String> {
    match value {
        None | Some(Value::Null) => Err("Please choose a topic.".to_string()),
        Some(Value::String(s)) if s.trim().is_empty() => Err("Please choose a topic.".to_string()),
        Some(Value::String(s)) => s.trim().parse().map_err(|_| "Please choose one of the listed topics.".to_string()),
        Some(_) => Err(NOT_TEXT.to_string()),
    }
}

/// The message: line breaks normalised to `\n`, trimmed, 10 to 5000
/// characters, control characters other than `\n` and `\t` refused.
fn message(value: Option<&Value>) -> Result<String, String> {
    const MISSING: &str = "Please tell us how we can help.";
    let raw = match value {
        None | Some(Value::Null) => return Err(MISSING.to_string()),
        Some(Value::String(s)) => s,
        Some(_) => return Err(NOT_TEXT.to_string()),
    };
    let normalised = raw.replace("\r\n", "\n").replace('\r', "\n");
    let s = normalised.trim();
    if s.is_empty() {
        return Err(MISSING.to_string());
    }
    if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(CONTROL_CHARS.to_string());
    }
    let chars = s.chars().count();
    if chars < MESSAGE_MIN_CHARS {
        return Err(format!("Please write at least {MESSAGE_MIN_CHARS} characters so we can help."));
    }
    if chars > MESSAGE_MAX_CHARS {
        return Err(format!("Please keep your message to {MESSAGE_MAX_CHARS} characters or fewer (it has {chars})."));
    }
    Ok(s.to_string())
}

fn widget_key(value: Option<&Value>) -> Result<String, String> {
    const BAD: &str = "This form is not set up correctly (its widget key is missing or invalid).";
    let Some(Value::String(s)) = value else {
        return Err(BAD.to_string());
    };
    let s = s.trim();
    let ok = !s.is_empty()
        && s.len() <= WIDGET_KEY_MAX_CHARS
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok { Ok(s.to_string()) } else { Err(BAD.to_string()) }
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
