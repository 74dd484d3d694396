//! Output filter (temporary).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Violation { Price, UndocumentedPromise, Refund, InternalDetail, SecretRequest }
pub fn check_reply(_r: &str) -> Vec<Violation> { vec![] }
