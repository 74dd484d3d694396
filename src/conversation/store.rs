//! What a conversation actor reads and writes in PostgreSQL. Loading folds
//! the latest snapshot and the events after it through the pure state
//! machine; a turn is committed in ONE transaction (the inbound message,
//! the events, the conversation row under optimistic concurrency, reply
//! messages, outbox rows, escalation or approval rows, and a snapshot every
//! N events), so a turn is either entirely durable or not at all; `commit`
//! holds that transaction, this module the rest.

mod commit;

pub use commit::commit_turn;

use super::machine::{ConversationState, Event, Rejected, Status, replay};
use crate::db::begin_tenant;
use crate::domain::{
    AgentRecord, ApprovalId, Channel, ConversationId, CustomerId, EscalationReason, Identifier, MessageId, TenantId,
    TicketId, Urgency,
};
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the conversation changed under us (expected version {expected})")]
    VersionConflict { expected: u64 },
    #[error("conversation {conversation} is inconsistent: {detail}")]
    Corrupt { conversation: ConversationId, detail: String },
    #[error("stored event does not replay: {0}")]
    Replay(#[from] Rejected),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl StoreError {
    /// Whether trying again later is expected to work: the database was
    /// away or busy, or another writer moved the conversation on.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Database(e) => crate::db::is_transient(e),
            StoreError::VersionConflict { .. } => true,
            StoreError::Corrupt { .. } | StoreError::Replay(_) => false,
        }
    }
}

/// A customer's current conversation as the actor holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct Loaded {
    pub conversation_id: Option<ConversationId>,
    pub state: ConversationState,
    /// Events replayed on top of the snapshot (for metrics).
    pub events_replayed: usize,
}

/// Loads the customer's latest conversation (an open one if there is one).
pub async fn load(pool: &PgPool, tenant: TenantId, customer: CustomerId) -> Result<Loaded, StoreError> {
    let mut tx = begin_tenant(pool, tenant).await?;
    let row: Option<(Uuid, String, i64)> = sqlx::query_as(
        "SELECT id, state, state_version FROM conversations
          WHERE customer_id = $1
          ORDER BY (state <> 'resolved') DESC, opened_at DESC
          LIMIT 1",
    )
    .bind(customer)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((id, status, version)) = row else {
        tx.commit().await?;
        return Ok(Loaded { conversation_id: None, state: ConversationState::new(), events_replayed: 0 });
    };
    let conversation = ConversationId::from_uuid(id);
    let corrupt = |detail: String| StoreError::Corrupt { conversation, detail };
    let snapshot: Option<(i64, serde_json::Value)> = sqlx::query_as(
        "SELECT seq, state FROM conversation_snapshots WHERE conversation_id = $1 AND seq <= $2 ORDER BY seq DESC LIMIT 1",
    )
    .bind(id)
    .bind(version)
    .fetch_optional(&mut *tx)
    .await?;
    let (from_seq, base) = match snapshot {
        Some((seq, state)) => {
            let state: ConversationState =
                serde_json::from_value(state).map_err(|e| corrupt(format!("snapshot {seq}: {e}")))?;
            (seq, state)
        }
        None => (0, ConversationState::new()),
    };
    // Only up to the row's version: a writer that commits between these
    // statements (READ COMMITTED) must not make the log look ahead.
    let rows: Vec<(i64, serde_json::Value)> = sqlx::query_as(
        "SELECT seq, payload FROM conversation_events WHERE conversation_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq",
    )
    .bind(id)
    .bind(from_seq)
    .bind(version)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let mut events = Vec::with_capacity(rows.len());
    for (i, (seq, payload)) in rows.iter().enumerate() {
        if *seq != from_seq + 1 + i as i64 {
            return Err(corrupt(format!("event seq {seq} out of order after {from_seq}")));
        }
        events
            .push(serde_json::from_value::<Event>(payload.clone()).map_err(|e| corrupt(format!("event {seq}: {e}")))?);
    }
    let state = replay(base, events.iter())?;
    if state.version as i64 != version || Some(state.status) != Status::parse(&status) {
        return Err(corrupt(format!("replayed to {} v{}, row says {status} v{version}", state.status, state.version)));
    }
    Ok(Loaded { conversation_id: Some(conversation), state, events_replayed: events.len() })
}

/// An inbound message that was already stored: its id and the replies it
/// got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlreadyStored {
    pub message_id: MessageId,
    pub conversation_id: ConversationId,
    pub replies: Vec<MessageId>,
}

/// Finds an inbound message by its provider id.
pub async fn find_inbound(
    pool: &PgPool,
    tenant: TenantId,
    channel: Channel,
    external_id: &str,
) -> Result<Option<AlreadyStored>, StoreError> {
    let mut tx = begin_tenant(pool, tenant).await?;
    let found = find_inbound_in(&mut tx, channel, external_id).await?;
    tx.commit().await?;
    Ok(found)
}

async fn find_inbound_in(
    conn: &mut PgConnection,
    channel: Channel,
    external_id: &str,
) -> Result<Option<AlreadyStored>, StoreError> {
    let row: Option<(Uuid, Uuid)> = sqlx::query_as(
        "SELECT id, conversation_id FROM messages
          WHERE channel = $1 AND external_id = $2 AND direction = 'inbound'",
    )
    .bind(channel.as_str())
    .bind(external_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((id, conversation)) = row else { return Ok(None) };
    let replies: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM messages WHERE in_reply_to = $1 AND direction = 'outbound' ORDER BY created_at",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(Some(AlreadyStored {
        message_id: MessageId::from_uuid(id),
        conversation_id: ConversationId::from_uuid(conversation),
        replies: replies.into_iter().map(MessageId::from_uuid).collect(),
    }))
}

/// The customer message a turn stores.
#[derive(Clone, Debug)]
pub struct NewInbound {
    pub id: MessageId,
    pub channel: Channel,
    pub external_id: String,
    pub body: String,
    pub subject: Option<String>,
    pub sender: Identifier,
    pub received_at: DateTime<Utc>,
    pub metadata: serde_json::Value,
}

/// An outgoing message a turn stores and queues in the outbox.
#[derive(Clone, Debug)]
pub struct NewReply {
    pub id: MessageId,
    pub channel: Channel,
    pub author: super::Author,
    pub body: String,
    pub in_reply_to: Option<MessageId>,
    pub recipient: Option<Identifier>,
    pub latency_ms: Option<u32>,
    pub tokens_used: Option<u32>,
}

#[derive(Clone, Debug)]
pub struct NewEscalation {
    pub reason: EscalationReason,
    /// The hand-over: what the humans need to pick the conversation up.
    pub summary: String,
    pub urgency: Urgency,
    pub ticket: Option<TicketId>,
}

/// The agent's record of a turn (`agent_turns`), and the ticket it opened.
#[derive(Clone, Debug)]
pub struct AgentTurn {
    pub brain: &'static str,
    /// `reply`, `draft` or `escalate`.
    pub decision: &'static str,
    pub reason: Option<EscalationReason>,
    pub confidence: f32,
    pub latency_ms: u32,
    pub record: AgentRecord,
}

#[derive(Clone, Debug)]
pub struct NewApproval {
    pub id: ApprovalId,
    pub inbound: MessageId,
    pub draft: String,
    pub confidence: f32,
}

/// A human's decision on a pending draft, written with its event.
#[derive(Clone, Debug)]
pub struct ApprovalDecision {
    pub id: ApprovalId,
    /// `approved`, `edited` or `rejected`.
    pub status: &'static str,
    /// The text that went out (none when rejected).
    pub final_text: Option<String>,
    pub by: String,
}

/// A draft waiting for a human, as its actor needs it.
#[derive(Clone, Debug)]
pub struct PendingDraft {
    pub inbound: MessageId,
    pub draft: String,
    pub status: String,
}

/// The draft of approval `id` in `conversation`, if it exists.
pub async fn load_draft(
    pool: &PgPool,
    tenant: TenantId,
    conversation: ConversationId,
    id: ApprovalId,
) -> Result<Option<PendingDraft>, StoreError> {
    let mut tx = begin_tenant(pool, tenant).await?;
    let row: Option<(Uuid, String, String)> =
        sqlx::query_as("SELECT inbound_message, draft, status FROM approvals WHERE id = $1 AND conversation_id = $2")
            .bind(id)
            .bind(conversation)
            .fetch_optional(&mut *tx)
            .await?;
    tx.commit().await?;
    Ok(row.map(|(inbound, draft, status)| PendingDraft { inbound: MessageId::from_uuid(inbound), draft, status }))
}

/// Who the customer's latest message in `conversation` on `channel` came
/// from (or the one message `inbound`, when given): where a human's reply
/// goes.
pub async fn reply_recipient(
    pool: &PgPool,
    tenant: TenantId,
    conversation: ConversationId,
    channel: Channel,
    inbound: Option<MessageId>,
) -> Result<Option<Identifier>, StoreError> {
    let mut tx = begin_tenant(pool, tenant).await?;
    let sender: Option<(Option<String>,)> = sqlx::query_as(
        "SELECT metadata->>'sender' FROM messages
          WHERE conversation_id = $1 AND direction = 'inbound' AND channel = $2 AND ($3::uuid IS NULL OR id = $3)
          ORDER BY created_at DESC LIMIT 1",
    )
    .bind(conversation)
    .bind(channel.as_str())
    .bind(inbound)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    let Some((Some(sender),)) = sender else { return Ok(None) };
    let parsed =
        sender.split_once(':').and_then(|(kind, value)| Identifier::from_parts(kind, value).ok()).ok_or_else(|| {
            StoreError::Corrupt { conversation, detail: format!("stored sender {sender:?} does not parse") }
        })?;
    Ok(Some(parsed))
}

/// Everything one turn writes.
#[derive(Clone, Debug)]
pub struct TurnRecord {
    pub tenant: TenantId,
    pub customer: CustomerId,
    pub conversation: ConversationId,
    /// True when the conversation row does not exist yet.
    pub new_conversation: bool,
    /// The state the turn started from (its version is the expected one).
    pub before: ConversationState,
    pub after: ConversationState,
    pub events: Vec<Event>,
    pub inbound: Option<NewInbound>,
    pub replies: Vec<NewReply>,
    pub escalation: Option<NewEscalation>,
    pub approval: Option<NewApproval>,
    pub agent: Option<AgentTurn>,
    /// Mark the conversation's open escalations resolved.
    pub close_escalations: bool,
    /// Mark the conversation's open escalation claimed by this person.
    pub claim_escalation: Option<String>,
    /// A human decided on the pending draft.
    pub decided_approval: Option<ApprovalDecision>,
    /// Write a snapshot when the version crosses a multiple of this.
    pub snapshot_every: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommitOutcome {
    Committed,
    /// The inbound message was stored before (a redelivery): nothing was
    /// written.
    Duplicate(AlreadyStored),
}
