//! What the support team does to a conversation: claim it, reply as a
//! human, hand it back to the AI, resolve it, and decide on a draft the AI
//! was not sure enough to send (approve, edit and send, reject). Each is
//! one event of the state machine, committed in one transaction with the
//! reply row and its outbox record (so the dispatcher sends it on the
//! customer's current channel), the draft's decision and any escalation.
//!
//! [`carry_out`] does the work on a state its caller holds. The customer's
//! actor calls it where one runs (`serve`, `worker`), so actions and
//! customer messages are applied one at a time; a process without actors
//! (`api`) calls [`carry_out_stored`], which loads the state from
//! PostgreSQL and relies on the version check: an actor elsewhere that
//! still holds the older state fails its next commit, re-reads and retries.

use super::ConversationActorState;
use crate::agent::format::{HumanReplyError, format_human_reply};
use crate::conversation::store::{self, ApprovalDecision, NewEscalation, NewReply, StoreError, TurnRecord};
use crate::conversation::{Author, ConversationState, Effect, Event, Rejected, Status, transition};
use crate::domain::{ApprovalId, Channel, ConversationId, CustomerId, EscalationReason, MessageId, TenantId, Urgency};
use sqlx::PgPool;

/// A support agent's action, `by` naming them.
#[derive(Clone, Debug)]
pub enum HumanAction {
    Claim { by: String },
    Reply { by: String, body: String },
    HandBack { by: String },
    Resolve { by: String },
    Approve { approval: ApprovalId, by: String },
    Edit { approval: ApprovalId, by: String, body: String },
    Reject { approval: ApprovalId, by: String, note: Option<String> },
}

impl HumanAction {
    fn kind(&self) -> &'static str {
        match self {
            HumanAction::Claim { .. } => "human_claimed",
            HumanAction::Reply { .. } => "human_replied",
            HumanAction::HandBack { .. } => "handed_back_to_ai",
            HumanAction::Resolve { .. } => "resolved",
            HumanAction::Approve { .. } => "draft_approved",
            HumanAction::Edit { .. } => "draft_edited",
            HumanAction::Reject { .. } => "draft_rejected",
        }
    }

    fn approval(&self) -> Option<ApprovalId> {
        match self {
            HumanAction::Approve { approval, .. }
            | HumanAction::Edit { approval, .. }
            | HumanAction::Reject { approval, .. } => Some(*approval),
            _ => None,
        }
    }
}

/// What an accepted action did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HumanOutcome {
    /// The conversation's state after the action.
    pub status: Status,
    pub state_version: u64,
    /// The message queued for the customer, if the action sends one.
    pub reply_id: Option<MessageId>,
    /// The escalation it opened (a rejected draft).
    pub escalated: Option<EscalationReason>,
}

/// Why an action was not carried out. Only `Failed` leaves the outcome
/// unknown.
#[derive(Clone, Debug, thiserror::Error)]
pub enum HumanRefusal {
    #[error(transparent)]
    NotAllowed(#[from] Rejected),
    #[error(transparent)]
    Text(#[from] HumanReplyError),
    #[error("no pending draft {0} in this conversation")]
    UnknownDraft(ApprovalId),
    #[error("this is not the customer's current conversation")]
    NotCurrent,
    #[error("the customer has not written on any channel yet")]
    NoChannel,
    #[error("the conversation changed meanwhile; reload and retry")]
    Moved,
    #[error("{0}")]
    Failed(String),
}

impl From<StoreError> for HumanRefusal {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::VersionConflict { .. } => HumanRefusal::Moved,
            other => HumanRefusal::Failed(other.to_string()),
        }
    }
}

/// Whose conversation, and the state it is in.
pub struct Held<'a> {
    pub pool: &'a PgPool,
    pub tenant: TenantId,
    pub customer: CustomerId,
    /// The customer's current conversation.
    pub conversation: Option<ConversationId>,
    pub state: &'a ConversationState,
    pub snapshot_every: u64,
}

/// Applies `action` to conversation `target`, which must be the held one;
/// answers the new state.
pub async fn carry_out(
    held: Held<'_>,
    target: ConversationId,
    action: HumanAction,
) -> Result<(ConversationState, HumanOutcome), HumanRefusal> {
    let conversation = match held.conversation {
        Some(current) if current == target => current,
        Some(_) => return Err(HumanRefusal::NotCurrent),
        None => {
            return Err(Rejected::NotAllowed { status: held.state.status, event: action.kind().to_string() }.into());
        }
    };
    if let Some(approval) = action.approval()
        && held.state.pending_approval != Some(approval)
    {
        return Err(HumanRefusal::UnknownDraft(approval));
    }
    let writes = writes(&held, conversation, action).await?;
    let (after, effects) = transition(held.state, writes.event.clone())?;
    let escalation = effects.iter().find_map(|e| match e {
        Effect::OpenEscalation { reason } => Some(NewEscalation {
            reason: *reason,
            summary: writes.note.clone().unwrap_or_default(),
            urgency: Urgency::for_reason(*reason),
            ticket: None,
        }),
        _ => None,
    });
    // Whoever claims or answers the conversation has its escalation.
    let claim_escalation = match &writes.event {
        Event::HumanClaimed { by } | Event::HumanReplied { by, .. } => Some(by.clone()),
        _ => None,
    };
    let outcome = HumanOutcome {
        status: after.status,
        state_version: after.version,
        reply_id: writes.reply.as_ref().map(|r| r.id),
        escalated: escalation.as_ref().map(|e| e.reason),
    };
    let record = TurnRecord {
        tenant: held.tenant,
        customer: held.customer,
        conversation,
        new_conversation: false,
        before: held.state.clone(),
        after: after.clone(),
        events: vec![writes.event],
        inbound: None,
        replies: writes.reply.into_iter().collect(),
        escalation,
        approval: None,
        agent: None,
        close_escalations: effects.contains(&Effect::CloseEscalation),
        claim_escalation,
        decided_approval: writes.decision,
        snapshot_every: held.snapshot_every,
    };
    store::commit_turn(held.pool, &record).await?;
    Ok((after, outcome))
}

/// Attempts at an action whose conversation keeps changing under it.
const STORED_ATTEMPTS: u32 = 3;

/// [`carry_out`] on the state as stored (a process without actors).
pub async fn carry_out_stored(
    pool: &PgPool,
    tenant: TenantId,
    customer: CustomerId,
    target: ConversationId,
    action: HumanAction,
    snapshot_every: u64,
) -> Result<HumanOutcome, HumanRefusal> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let loaded = store::load(pool, tenant, customer).await?;
        let held =
            Held { pool, tenant, customer, conversation: loaded.conversation_id, state: &loaded.state, snapshot_every };
        match carry_out(held, target, action.clone()).await {
            Err(HumanRefusal::Moved) if attempt < STORED_ATTEMPTS => continue,
            other => return other.map(|(_, outcome)| outcome),
        }
    }
}

/// The rows one action writes beside its event.
struct Writes {
    event: Event,
    reply: Option<NewReply>,
    decision: Option<ApprovalDecision>,
    /// The summary of the escalation a rejection opens.
    note: Option<String>,
}

impl Writes {
    fn event(event: Event) -> Self {
        Self { event, reply: None, decision: None, note: None }
    }
}

async fn writes(held: &Held<'_>, conversation: ConversationId, action: HumanAction) -> Result<Writes, HumanRefusal> {
    let channel = || held.state.channel.ok_or(HumanRefusal::NoChannel);
    let recipient = |channel: Channel, inbound: Option<MessageId>| {
        store::reply_recipient(held.pool, held.tenant, conversation, channel, inbound)
    };
    let reply = |channel: Channel, body: String, in_reply_to: Option<MessageId>, recipient| NewReply {
        id: MessageId::new(),
        channel,
        author: Author::Human,
        body,
        in_reply_to,
        recipient,
        latency_ms: None,
        tokens_used: None,
    };
    Ok(match action {
        HumanAction::Claim { by } => Writes::event(Event::HumanClaimed { by }),
        HumanAction::HandBack { by } => Writes::event(Event::HandedBackToAi { by }),
        HumanAction::Resolve { by } => Writes::event(Event::Resolved { by }),
        HumanAction::Reply { by, body } => {
            let channel = channel()?;
            let text = format_human_reply(channel, &body)?;
            let reply = reply(channel, text, None, recipient(channel, None).await?);
            Writes {
                event: Event::HumanReplied { reply_id: reply.id, by },
                reply: Some(reply),
                decision: None,
                note: None,
            }
        }
        HumanAction::Approve { approval, by } => {
            let channel = channel()?;
            let draft = pending_draft(held, conversation, approval).await?;
            let reply = reply(
                channel,
                draft.draft.clone(),
                Some(draft.inbound),
                recipient(channel, Some(draft.inbound)).await?,
            );
            Writes {
                event: Event::DraftApproved { approval_id: approval, reply_id: reply.id, by: by.clone() },
                decision: Some(ApprovalDecision {
                    id: approval,
                    status: "approved",
                    final_text: Some(draft.draft),
                    by,
                }),
                reply: Some(reply),
                note: None,
            }
        }
        HumanAction::Edit { approval, by, body } => {
            let channel = channel()?;
            let draft = pending_draft(held, conversation, approval).await?;
            let text = format_human_reply(channel, &body)?;
            let reply =
                reply(channel, text.clone(), Some(draft.inbound), recipient(channel, Some(draft.inbound)).await?);
            Writes {
                event: Event::DraftEdited { approval_id: approval, reply_id: reply.id, by: by.clone() },
                decision: Some(ApprovalDecision { id: approval, status: "edited", final_text: Some(text), by }),
                reply: Some(reply),
                note: None,
            }
        }
        HumanAction::Reject { approval, by, note } => {
            pending_draft(held, conversation, approval).await?;
            let note = match note.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
                Some(n) => format!("Draft rejected by {by}: {n}"),
                None => format!("Draft rejected by {by}"),
            };
            Writes {
                event: Event::DraftRejected { approval_id: approval, by: by.clone() },
                reply: None,
                decision: Some(ApprovalDecision { id: approval, status: "rejected", final_text: None, by }),
                note: Some(note),
            }
        }
    })
}

async fn pending_draft(
    held: &Held<'_>,
    conversation: ConversationId,
    approval: ApprovalId,
) -> Result<store::PendingDraft, HumanRefusal> {
    store::load_draft(held.pool, held.tenant, conversation, approval)
        .await?
        .filter(|d| d.status == "pending")
        .ok_or(HumanRefusal::UnknownDraft(approval))
}

impl ConversationActorState {
    /// [`carry_out`] on the state this actor holds.
    pub(super) async fn human(
        &mut self,
        target: ConversationId,
        action: HumanAction,
    ) -> Result<HumanOutcome, HumanRefusal> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let held = Held {
                pool: &self.deps.pool,
                tenant: self.tenant,
                customer: self.customer,
                conversation: self.conversation,
                state: &self.state,
                snapshot_every: self.deps.snapshot_every,
            };
            match carry_out(held, target, action.clone()).await {
                Ok((after, outcome)) => {
                    self.state = after;
                    if outcome.reply_id.is_some() {
                        self.deps.outbox_notify.notify_one();
                    }
                    if let Some(reason) = outcome.escalated {
                        self.deps.metrics.escalation(reason.as_str());
                    }
                    return Ok(outcome);
                }
                // Written by another process meanwhile: re-read, try again.
                Err(HumanRefusal::Moved) => {
                    self.reload().await?;
                    if attempt > self.deps.max_conflict_retries {
                        return Err(HumanRefusal::Moved);
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }
}
