//! The actors (ractor): one `ConversationActor` per active customer, the
//! `ConversationSupervisor` that owns them, and the conversation routers
//! that feed them from the bus with per-customer ordering and redelivery.

pub mod conversation;
pub mod outage;
pub mod router;
pub mod supervisor;

pub use conversation::{
    ConversationActor, ConversationActorMessage, ConversationDeps, HumanAction, HumanOutcome, HumanRefusal, TurnError,
    TurnFailure, TurnReceipt, TurnResult, carry_out_stored,
};
pub use router::{Delivery, RouterConfig, run_router};
pub use supervisor::{
    ConversationSupervisor, Registry, ResidentActor, StatsSnapshot, SupervisorConfig, SupervisorMessage,
    SupervisorStats,
};
