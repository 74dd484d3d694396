//! Committing a turn: the one transaction that writes everything a
//! [`TurnRecord`] holds. Each step is one function taking the open
//! transaction and the record, run by [`write_turn`] in a fixed order: the
//! conversation row first (its version check takes the row lock), then the
//! inbound message, the events, the replies and their outbox rows, the
//! turn's measurement, the agent's record, the escalation, the approval
//! rows, and a snapshot. A step that finds the turn cannot commit stops it
//! with a [`Halt`].

use super::{AgentTurn, CommitOutcome, StoreError, TurnRecord, find_inbound_in};
use crate::db::begin_tenant;
use crate::domain::{Channel, MessageId, OutboundMessage, TenantId, topics};
use chrono::Utc;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// Why a step ends the turn before the commit.
enum Halt {
    /// Roll the transaction back, then answer with this.
    RollBack(Result<CommitOutcome, StoreError>),
    /// Fail with this error; dropping the transaction rolls it back.
    Fail(StoreError),
}

impl From<StoreError> for Halt {
    fn from(e: StoreError) -> Self {
        Halt::Fail(e)
    }
}

impl From<sqlx::Error> for Halt {
    fn from(e: sqlx::Error) -> Self {
        Halt::Fail(StoreError::Database(e))
    }
}

/// Commits one turn in one transaction.
pub async fn commit_turn(pool: &PgPool, rec: &TurnRecord) -> Result<CommitOutcome, StoreError> {
    let mut tx = begin_tenant(pool, rec.tenant).await?;
    match write_turn(&mut tx, rec).await {
        Ok(()) => {
            tx.commit().await?;
            Ok(CommitOutcome::Committed)
        }
        Err(Halt::RollBack(outcome)) => {
            tx.rollback().await?;
            outcome
        }
        Err(Halt::Fail(e)) => Err(e),
    }
}

/// Every step of the turn, in order, inside the open transaction.
async fn write_turn(conn: &mut PgConnection, rec: &TurnRecord) -> Result<(), Halt> {
    check_event_count(rec)?;
    open_conversation(conn, rec).await?;
    advance_version(conn, rec).await?;
    insert_inbound(conn, rec).await?;
    insert_events(conn, rec).await?;
    insert_replies(conn, rec).await?;
    // One measurement per turn (fte.metrics), and the hand-over itself
    // (fte.escalations), through the same outbox as the replies.
    insert_turn_metrics(conn, rec).await?;
    if let Some(agent) = &rec.agent {
        insert_agent_turn(conn, rec, agent).await?;
    }
    insert_escalation(conn, rec).await?;
    insert_approval(conn, rec).await?;
    decide_approval(conn, rec).await?;
    claim_escalation(conn, rec).await?;
    close_escalations(conn, rec).await?;
    write_snapshot(conn, rec).await?;
    Ok(())
}

/// The channel the conversation is on after the turn.
fn turn_channel(rec: &TurnRecord) -> Option<Channel> {
    rec.after.channel.or(rec.inbound.as_ref().map(|m| m.channel))
}

/// The record's events must move the version from `before` to `after`.
fn check_event_count(rec: &TurnRecord) -> Result<(), StoreError> {
    let expected = rec.before.version;
    if rec.after.version != expected + rec.events.len() as u64 {
        return Err(StoreError::Corrupt {
            conversation: rec.conversation,
            detail: format!("{} events cannot move v{expected} to v{}", rec.events.len(), rec.after.version),
        });
    }
    Ok(())
}

/// Inserts the conversation row of a new conversation, at version 0.
async fn open_conversation(conn: &mut PgConnection, rec: &TurnRecord) -> Result<(), StoreError> {
    if !rec.new_conversation {
        return Ok(());
    }
    let expected = rec.before.version;
    let initial = turn_channel(rec).ok_or_else(|| StoreError::Corrupt {
        conversation: rec.conversation,
        detail: "a new conversation needs a channel".into(),
    })?;
    let subject = rec.inbound.as_ref().and_then(|m| m.subject.clone());
    let inserted = sqlx::query(
        "INSERT INTO conversations (id, tenant_id, customer_id, state, state_version, initial_channel, current_channel, subject)
         VALUES ($1, $2, $3, 'idle', 0, $4, $4, $5)
         ON CONFLICT DO NOTHING",
    )
    .bind(rec.conversation.as_uuid())
    .bind(rec.tenant)
    .bind(rec.customer)
    .bind(initial.as_str())
    .bind(subject)
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 0 {
        // Another writer opened a conversation for this customer first.
        return Err(StoreError::VersionConflict { expected });
    }
    Ok(())
}

/// Moves the conversation row from the expected version to the turn's.
async fn advance_version(conn: &mut PgConnection, rec: &TurnRecord) -> Result<(), Halt> {
    let expected = rec.before.version;
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
    .bind(rec.conversation.as_uuid())
    .bind(expected as i64)
    .bind(rec.after.status.as_str())
    .bind(rec.after.version as i64)
    .bind(turn_channel(rec).map(|c| c.as_str()))
    .bind(rec.inbound.is_some())
    .execute(&mut *conn)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(Halt::RollBack(Err(StoreError::VersionConflict { expected })));
    }
    // From here on this transaction holds the conversation row's lock: a
    // concurrent writer waits for it, then finds the version moved on.
    Ok(())
}

/// Inserts the customer's message; one stored before (a redelivery) makes
/// the turn a [`CommitOutcome::Duplicate`].
async fn insert_inbound(conn: &mut PgConnection, rec: &TurnRecord) -> Result<(), Halt> {
    let Some(m) = &rec.inbound else { return Ok(()) };
    let inserted = sqlx::query(
        "INSERT INTO messages (id, tenant_id, conversation_id, customer_id, channel, direction, author, body,
                               external_id, delivery_status, metadata, created_at)
         VALUES ($1, $2, $3, $4, $5, 'inbound', 'customer', $6, $7, 'received', $8, $9)
         ON CONFLICT (tenant_id, channel, external_id) WHERE external_id IS NOT NULL DO NOTHING",
    )
    .bind(m.id)
    .bind(rec.tenant)
    .bind(rec.conversation.as_uuid())
    .bind(rec.customer)
    .bind(m.channel.as_str())
    .bind(&m.body)
    .bind(&m.external_id)
    .bind(serde_json::json!({ "sender": m.sender.to_string(), "subject": m.subject, "extra": m.metadata }))
    .bind(m.received_at)
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 0 {
        let found = find_inbound_in(conn, m.channel, &m.external_id).await?;
        return Err(Halt::RollBack(match found {
            Some(stored) => Ok(CommitOutcome::Duplicate(stored)),
            None => Err(StoreError::VersionConflict { expected: rec.before.version }),
        }));
    }
    Ok(())
}

/// Appends the turn's events to the log, numbered on from the expected
/// version.
async fn insert_events(conn: &mut PgConnection, rec: &TurnRecord) -> Result<(), StoreError> {
    let expected = rec.before.version;
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
        .bind(rec.conversation.as_uuid())
        .bind(seq as i64)
        .bind(event.kind())
        .bind(payload)
        .bind(if before.is_empty() { "-" } else { before })
        .bind(if i + 1 == rec.events.len() { rec.after.status.as_str() } else { "-" })
        .execute(&mut *conn)
        .await
        .map_err(|e| match &e {
            // Another writer used this seq: the version moved on.
            sqlx::Error::Database(db) if db.code().as_deref() == Some("23505") => StoreError::VersionConflict { expected },
            _ => StoreError::Database(e),
        })?;
    }
    Ok(())
}

/// Inserts each reply as a pending outbound message and queues it in the
/// outbox on its channel's outbound topic.
async fn insert_replies(conn: &mut PgConnection, rec: &TurnRecord) -> Result<(), StoreError> {
    for reply in &rec.replies {
        sqlx::query(
            "INSERT INTO messages (id, tenant_id, conversation_id, customer_id, channel, direction, author, body,
                                   in_reply_to, delivery_status, latency_ms, tokens_used)
             VALUES ($1, $2, $3, $4, $5, 'outbound', $6, $7, $8, 'pending', $9, $10)",
        )
        .bind(reply.id)
        .bind(rec.tenant)
        .bind(rec.conversation.as_uuid())
        .bind(rec.customer)
        .bind(reply.channel.as_str())
        .bind(reply.author.as_str())
        .bind(&reply.body)
        .bind(reply.in_reply_to)
        .bind(reply.latency_ms.map(|v| v as i32))
        .bind(reply.tokens_used.map(|v| v as i32))
        .execute(&mut *conn)
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
            conn,
            rec.tenant,
            &topics::outbound(reply.channel),
            &rec.customer.to_string(),
            &payload,
            Some(reply.id),
        )
        .await?;
    }
    Ok(())
}

/// Queues the turn's measurement on `fte.metrics` (turns on a customer
/// message only).
async fn insert_turn_metrics(conn: &mut PgConnection, rec: &TurnRecord) -> Result<(), StoreError> {
    let Some(m) = &rec.inbound else { return Ok(()) };
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
    insert_outbox(conn, rec.tenant, topics::METRICS, &rec.conversation.to_string(), &metrics, None).await
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
        insert_outbox(conn, rec.tenant, topics::METRICS, &rec.tenant.to_string(), &alert, None).await?;
    }
    Ok(())
}

/// Inserts the escalation row (moving its ticket to `escalated`) and
/// queues the hand-over on `fte.escalations`.
async fn insert_escalation(conn: &mut PgConnection, rec: &TurnRecord) -> Result<(), StoreError> {
    let Some(esc) = &rec.escalation else { return Ok(()) };
    sqlx::query(
        "INSERT INTO escalations (id, tenant_id, conversation_id, customer_id, reason, summary, urgency, ticket_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(Uuid::now_v7())
    .bind(rec.tenant)
    .bind(rec.conversation.as_uuid())
    .bind(rec.customer)
    .bind(esc.reason.as_str())
    .bind(&esc.summary)
    .bind(esc.urgency.as_str())
    .bind(esc.ticket)
    .execute(&mut *conn)
    .await?;
    if let Some(ticket) = esc.ticket {
        sqlx::query("UPDATE tickets SET status = 'escalated', updated_at = now() WHERE id = $1")
            .bind(ticket)
            .execute(&mut *conn)
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
    insert_outbox(conn, rec.tenant, topics::ESCALATIONS, &rec.conversation.to_string(), &event, None).await
}

/// Inserts the draft that waits for a human's approval.
async fn insert_approval(conn: &mut PgConnection, rec: &TurnRecord) -> Result<(), StoreError> {
    let Some(approval) = &rec.approval else { return Ok(()) };
    sqlx::query(
        "INSERT INTO approvals (id, tenant_id, conversation_id, inbound_message, draft, confidence)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(approval.id)
    .bind(rec.tenant)
    .bind(rec.conversation.as_uuid())
    .bind(approval.inbound)
    .bind(&approval.draft)
    .bind(approval.confidence)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Records a human's decision on the pending draft.
async fn decide_approval(conn: &mut PgConnection, rec: &TurnRecord) -> Result<(), Halt> {
    let Some(decision) = &rec.decided_approval else { return Ok(()) };
    let decided = sqlx::query(
        "UPDATE approvals SET status = $2, final_text = $3, decided_by = $4, decided_at = now()
          WHERE id = $1 AND status = 'pending'",
    )
    .bind(decision.id)
    .bind(decision.status)
    .bind(&decision.final_text)
    .bind(&decision.by)
    .execute(&mut *conn)
    .await?;
    if decided.rows_affected() == 0 {
        // Someone decided first: the version check should have caught
        // it, so the row and the events disagree.
        return Err(Halt::RollBack(Err(StoreError::VersionConflict { expected: rec.before.version })));
    }
    Ok(())
}

/// Marks the conversation's open escalation claimed by the person named.
async fn claim_escalation(conn: &mut PgConnection, rec: &TurnRecord) -> Result<(), StoreError> {
    let Some(by) = &rec.claim_escalation else { return Ok(()) };
    sqlx::query(
        "UPDATE escalations SET status = 'claimed', claimed_by = $2, claimed_at = now()
          WHERE conversation_id = $1 AND status = 'open'",
    )
    .bind(rec.conversation.as_uuid())
    .bind(by)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Marks the conversation's escalations resolved, when the turn asks for it.
async fn close_escalations(conn: &mut PgConnection, rec: &TurnRecord) -> Result<(), StoreError> {
    if !rec.close_escalations {
        return Ok(());
    }
    sqlx::query(
        "UPDATE escalations SET status = 'resolved', resolved_at = now()
          WHERE conversation_id = $1 AND status <> 'resolved'",
    )
    .bind(rec.conversation.as_uuid())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Writes a snapshot of the state after the turn when its version crosses
/// a multiple of `snapshot_every`.
async fn write_snapshot(conn: &mut PgConnection, rec: &TurnRecord) -> Result<(), StoreError> {
    let expected = rec.before.version;
    let every = rec.snapshot_every.max(1);
    if rec.after.version / every <= expected / every {
        return Ok(());
    }
    let state = serde_json::to_value(&rec.after).map_err(|e| StoreError::Corrupt {
        conversation: rec.conversation,
        detail: format!("state does not serialize: {e}"),
    })?;
    sqlx::query("INSERT INTO conversation_snapshots (tenant_id, conversation_id, seq, state) VALUES ($1, $2, $3, $4)")
        .bind(rec.tenant)
        .bind(rec.conversation.as_uuid())
        .bind(rec.after.version as i64)
        .bind(state)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

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
