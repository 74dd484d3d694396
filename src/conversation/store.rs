//! What a conversation actor reads and writes in PostgreSQL. Loading folds
//! the latest snapshot and the events after it through the pure state
//! machine; a turn is committed in ONE transaction (the inbound message,
//! the events, the conversation row under optimistic concurrency, reply
//! messages, outbox rows, escalation or approval rows, and a snapshot every
//! N events), so a turn is either entirely durable or not at all.

use super::machine::{ConversationState, Event, Rejected, Status, replay};
use crate::db::begin_tenant;
use crate::domain::{
    ApprovalId, Channel, ConversationId, CustomerId, EscalationReason, Identifier, MessageId, OutboundMessage, TenantId,
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
    pub urgency: crate::agent::tools::Urgency,
    pub ticket: Option<crate::domain::TicketId>,
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
    pub record: crate::brain::AgentRecord,
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

/// Where each turn's measurements go.
pub const METRICS_TOPIC: &str = "fte.metrics";
/// Where hand-overs to humans go.
pub const ESCALATIONS_TOPIC: &str = "fte.escalations";

async fn insert_outbox(
    conn: &mut PgConnection,
    tenant: TenantId,
    topic: &str,
    key: &str,
    payload: &serde_json::Value,
    message: Option<MessageId>,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO outbox (tenant_id, topic, key, payload, message_id) VALUES ($1, $2, $3, $4, $5)")
        .bind(tenant)
        .bind(topic)
        .bind(key)
        .bind(payload)
        .bind(message)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The outbound topic of a channel.
pub fn outbound_topic(channel: Channel) -> String {
    format!("fte.channels.{channel}.outbound")
}

/// Commits one turn in one transaction.
pub async fn commit_turn(pool: &PgPool, rec: &TurnRecord) -> Result<CommitOutcome, StoreError> {
    let mut tx = begin_tenant(pool, rec.tenant).await?;
    let conversation = rec.conversation.as_uuid();
    let expected = rec.before.version;
    if rec.after.version != expected + rec.events.len() as u64 {
        return Err(StoreError::Corrupt {
            conversation: rec.conversation,
            detail: format!("{} events cannot move v{expected} to v{}", rec.events.len(), rec.after.version),
        });
    }
    let channel = rec.after.channel.or(rec.inbound.as_ref().map(|m| m.channel));
    if rec.new_conversation {
        let initial = channel.ok_or_else(|| StoreError::Corrupt {
            conversation: rec.conversation,
            detail: "a new conversation needs a channel".into(),
        })?;
        let subject = rec.inbound.as_ref().and_then(|m| m.subject.clone());
        let inserted = sqlx::query(
            "INSERT INTO conversations (id, tenant_id, customer_id, state, state_version, initial_channel, current_channel, subject)
             VALUES ($1, $2, $3, 'idle', 0, $4, $4, $5)
             ON CONFLICT DO NOTHING",
        )
        .bind(conversation)
        .bind(rec.tenant)
        .bind(rec.customer)
        .bind(initial.as_str())
        .bind(subject)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            // Another writer opened a conversation for this customer first.
            return Err(StoreError::VersionConflict { expected });
        }
    }

    // The version check comes first: it takes the row lock.
    let updated = sqlx::query(
        "UPDATE conversations
            SET state = $3, state_version = $4, current_channel = COALESCE($5, current_channel),
                updated_at = now(),
                last_message_at = CASE WHEN $6 OR ($3 = 'awaiting_customer' AND state <> 'awaiting_customer')
                                       THEN now() ELSE last_message_at END,
                resolved_at = CASE WHEN $3 = 'resolved' THEN now() ELSE NULL END
          WHERE id = $1 AND state_version = $2",
    )
    .bind(conversation)
    .bind(expected as i64)
    .bind(rec.after.status.as_str())
    .bind(rec.after.version as i64)
    .bind(channel.map(|c| c.as_str()))
    .bind(rec.inbound.is_some())
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() == 0 {
        tx.rollback().await?;
        return Err(StoreError::VersionConflict { expected });
    }
    // From here on this transaction holds the conversation row's lock: a
    // concurrent writer waits for it, then finds the version moved on.

    if let Some(m) = &rec.inbound {
        let inserted = sqlx::query(
            "INSERT INTO messages (id, tenant_id, conversation_id, customer_id, channel, direction, author, body,
                                   external_id, delivery_status, metadata, created_at)
             VALUES ($1, $2, $3, $4, $5, 'inbound', 'customer', $6, $7, 'received', $8, $9)
             ON CONFLICT (tenant_id, channel, external_id) WHERE external_id IS NOT NULL DO NOTHING",
        )
        .bind(m.id)
        .bind(rec.tenant)
        .bind(conversation)
        .bind(rec.customer)
        .bind(m.channel.as_str())
        .bind(&m.body)
        .bind(&m.external_id)
        .bind(serde_json::json!({ "sender": m.sender.to_string(), "subject": m.subject, "extra": m.metadata }))
        .bind(m.received_at)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            let found = find_inbound_in(&mut tx, m.channel, &m.external_id).await?;
            tx.rollback().await?;
            return match found {
                Some(stored) => Ok(CommitOutcome::Duplicate(stored)),
                None => Err(StoreError::VersionConflict { expected }),
            };
        }
    }

    for (i, event) in rec.events.iter().enumerate() {
        let seq = expected + 1 + i as u64;
        let before = if i == 0 { rec.before.status.as_str() } else { "" };
        let payload = serde_json::to_value(event).map_err(|e| StoreError::Corrupt {
            conversation: rec.conversation,
            detail: format!("event does not serialize: {e}"),
        })?;
        sqlx::query(
            "INSERT INTO conversation_events (tenant_id, conversation_id, seq, event_type, payload, state_before, state_after, state_version)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $3)",
        )
        .bind(rec.tenant)
        .bind(conversation)
        .bind(seq as i64)
        .bind(event.kind())
        .bind(payload)
        .bind(if before.is_empty() { "-" } else { before })
        .bind(if i + 1 == rec.events.len() { rec.after.status.as_str() } else { "-" })
        .execute(&mut *tx)
        .await
        .map_err(|e| match &e {
            // Another writer used this seq: the version moved on.
            sqlx::Error::Database(db) if db.code().as_deref() == Some("23505") => StoreError::VersionConflict { expected },
            _ => StoreError::Database(e),
        })?;
    }

    for reply in &rec.replies {
        sqlx::query(
            "INSERT INTO messages (id, tenant_id, conversation_id, customer_id, channel, direction, author, body,
                                   in_reply_to, delivery_status, latency_ms, tokens_used)
             VALUES ($1, $2, $3, $4, $5, 'outbound', $6, $7, $8, 'pending', $9, $10)",
        )
        .bind(reply.id)
        .bind(rec.tenant)
        .bind(conversation)
        .bind(rec.customer)
        .bind(reply.channel.as_str())
        .bind(reply.author.as_str())
        .bind(&reply.body)
        .bind(reply.in_reply_to)
        .bind(reply.latency_ms.map(|v| v as i32))
        .bind(reply.tokens_used.map(|v| v as i32))
        .execute(&mut *tx)
        .await?;
        let outbound = OutboundMessage {
            message_id: reply.id,
            tenant_id: rec.tenant,
            customer_id: rec.customer,
            conversation_id: rec.conversation,
            channel: reply.channel,
            author: reply.author.as_str().to_string(),
            recipient: reply.recipient.clone(),
            body: reply.body.clone(),
            in_reply_to: reply.in_reply_to,
            created_at: Utc::now(),
        };
        let payload = serde_json::to_value(&outbound).map_err(|e| StoreError::Corrupt {
            conversation: rec.conversation,
            detail: format!("outbound message does not serialize: {e}"),
        })?;
        insert_outbox(
            &mut tx,
            rec.tenant,
            &outbound_topic(reply.channel),
            &rec.customer.to_string(),
            &payload,
            Some(reply.id),
        )
        .await?;
    }

    // One measurement per turn (fte.metrics), and the hand-over itself
    // (fte.escalations), through the same outbox as the replies.
    if let Some(m) = &rec.inbound {
        let metrics = serde_json::json!({
            "tenant_id": rec.tenant,
            "conversation_id": rec.conversation,
            "customer_id": rec.customer,
            "channel": m.channel,
            "latency_ms": rec.replies.iter().find_map(|r| r.latency_ms),
            "escalated": rec.escalation.is_some(),
            "tool_calls_count": rec.agent.as_ref().map_or(0, |a| a.record.tool_calls.len()),
            "brain": rec.agent.as_ref().map(|a| a.brain),
            "tokens_used": rec.agent.as_ref().map_or(0, |a| a.record.prompt_tokens + a.record.completion_tokens),
            "cost_usd": rec.agent.as_ref().map_or(0.0, |a| a.record.cost_usd),
            "state": rec.after.status,
        });
        insert_outbox(&mut tx, rec.tenant, METRICS_TOPIC, &rec.conversation.to_string(), &metrics, None).await?;
    }
    if let Some(agent) = &rec.agent {
        insert_agent_turn(&mut tx, rec, agent).await?;
    }
    if let Some(esc) = &rec.escalation {
        sqlx::query(
            "INSERT INTO escalations (id, tenant_id, conversation_id, customer_id, reason, summary, urgency, ticket_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(Uuid::now_v7())
        .bind(rec.tenant)
        .bind(conversation)
        .bind(rec.customer)
        .bind(esc.reason.as_str())
        .bind(&esc.summary)
        .bind(esc.urgency.as_str())
        .bind(esc.ticket)
        .execute(&mut *tx)
        .await?;
        if let Some(ticket) = esc.ticket {
            sqlx::query("UPDATE tickets SET status = 'escalated', updated_at = now() WHERE id = $1")
                .bind(ticket)
                .execute(&mut *tx)
                .await?;
        }
        let event = serde_json::json!({
            "tenant_id": rec.tenant,
            "conversation_id": rec.conversation,
            "customer_id": rec.customer,
            "reason": esc.reason,
            "urgency": esc.urgency,
            "summary": esc.summary,
        });
        insert_outbox(&mut tx, rec.tenant, ESCALATIONS_TOPIC, &rec.conversation.to_string(), &event, None).await?;
    }
    if let Some(approval) = &rec.approval {
        sqlx::query(
            "INSERT INTO approvals (id, tenant_id, conversation_id, inbound_message, draft, confidence)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(approval.id)
        .bind(rec.tenant)
        .bind(conversation)
        .bind(approval.inbound)
        .bind(&approval.draft)
        .bind(approval.confidence)
        .execute(&mut *tx)
        .await?;
    }

    if let Some(decision) = &rec.decided_approval {
        let decided = sqlx::query(
            "UPDATE approvals SET status = $2, final_text = $3, decided_by = $4, decided_at = now()
              WHERE id = $1 AND status = 'pending'",
        )
        .bind(decision.id)
        .bind(decision.status)
        .bind(&decision.final_text)
        .bind(&decision.by)
        .execute(&mut *tx)
        .await?;
        if decided.rows_affected() == 0 {
            // Someone decided first: the version check should have caught
            // it, so the row and the events disagree.
            tx.rollback().await?;
            return Err(StoreError::VersionConflict { expected });
        }
    }

    if let Some(by) = &rec.claim_escalation {
        sqlx::query(
            "UPDATE escalations SET status = 'claimed', claimed_by = $2, claimed_at = now()
              WHERE conversation_id = $1 AND status = 'open'",
        )
        .bind(conversation)
        .bind(by)
        .execute(&mut *tx)
        .await?;
    }

    if rec.close_escalations {
        sqlx::query(
            "UPDATE escalations SET status = 'resolved', resolved_at = now()
              WHERE conversation_id = $1 AND status <> 'resolved'",
        )
        .bind(conversation)
        .execute(&mut *tx)
        .await?;
    }

    let every = rec.snapshot_every.max(1);
    if rec.after.version / every > expected / every {
        let state = serde_json::to_value(&rec.after).map_err(|e| StoreError::Corrupt {
            conversation: rec.conversation,
            detail: format!("state does not serialize: {e}"),
        })?;
        sqlx::query(
            "INSERT INTO conversation_snapshots (tenant_id, conversation_id, seq, state) VALUES ($1, $2, $3, $4)",
        )
        .bind(rec.tenant)
        .bind(conversation)
        .bind(rec.after.version as i64)
        .bind(state)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(CommitOutcome::Committed)
}

/// Inserts the turn's new ticket (if it opened one) and its `agent_turns`
/// row; a budget alert goes to `fte.metrics` through the outbox.
async fn insert_agent_turn(conn: &mut PgConnection, rec: &TurnRecord, agent: &AgentTurn) -> Result<(), StoreError> {
    let a = &agent.record;
    if let Some(t) = a.ticket.as_ref().filter(|t| !t.existing) {
        sqlx::query(
            "INSERT INTO tickets (id, tenant_id, number, customer_id, conversation_id, source_channel, subject, category, priority)
             OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(t.id)
        .bind(rec.tenant)
        .bind(t.number)
        .bind(rec.customer)
        .bind(rec.conversation)
        .bind(t.channel.as_str())
        .bind(&t.subject)
        .bind(&t.category)
        .bind(t.priority.as_str())
        .execute(&mut *conn)
        .await?;
    }
    let corrupt = |e: serde_json::Error| StoreError::Corrupt {
        conversation: rec.conversation,
        detail: format!("agent record does not serialize: {e}"),
    };
    let inbound = rec.inbound.as_ref().map(|m| m.id);
    sqlx::query(
        "INSERT INTO agent_turns (id, tenant_id, conversation_id, inbound_message, ticket_id, brain, decision, reason,
                                  confidence, tool_calls, fallbacks, sources, prompt_tokens, completion_tokens,
                                  cost_usd, latency_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
    )
    .bind(Uuid::now_v7())
    .bind(rec.tenant)
    .bind(rec.conversation)
    .bind(inbound)
    .bind(a.ticket.as_ref().map(|t| t.id))
    .bind(agent.brain)
    .bind(agent.decision)
    .bind(agent.reason.map(|r| r.as_str()))
    .bind(agent.confidence.clamp(0.0, 1.0))
    .bind(serde_json::to_value(&a.tool_calls).map_err(corrupt)?)
    .bind(serde_json::to_value(&a.fallbacks).map_err(corrupt)?)
    .bind(&a.sources)
    .bind(i32::try_from(a.prompt_tokens).unwrap_or(i32::MAX))
    .bind(i32::try_from(a.completion_tokens).unwrap_or(i32::MAX))
    .bind(a.cost_usd.max(0.0))
    .bind(i32::try_from(agent.latency_ms).unwrap_or(i32::MAX))
    .execute(&mut *conn)
    .await?;
    if a.budget_alert {
        let alert = serde_json::json!({
            "alert": "budget_exhausted",
            "tenant_id": rec.tenant,
            "conversation_id": rec.conversation,
            "brain": agent.brain,
        });
        insert_outbox(conn, rec.tenant, METRICS_TOPIC, &rec.tenant.to_string(), &alert, None).await?;
    }
    Ok(())
}
