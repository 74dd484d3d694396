//! The conversation: its state machine (pure, in `machine`), and what the
//! actor persists of it (`store`).

pub mod machine;
pub mod store;

pub use machine::{Author, ConversationState, Effect, Event, Rejected, Status, transition};
