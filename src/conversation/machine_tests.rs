//! Unit and property tests of the pure state machine.

use super::*;
use proptest::prelude::*;

fn msg() -> MessageId {
    MessageId::new()
}

fn step(state: &ConversationState, event: Event) -> (ConversationState, Vec<Effect>) {
    transition(state, event).expect("transition accepted")
}

#[test]
fn a_first_message_starts_an_agent_turn_and_a_reply_waits_for_the_customer() {
    let m = msg();
    let (s, fx) = step(&ConversationState::new(), Event::CustomerMessage { message_id: m, channel: Channel::Email });
    assert_eq!(s.status, Status::Active);
    assert_eq!(s.version, 1);
    assert_eq!(fx, vec![Effect::RunAgentTurn { message_id: m }]);
    let r = msg();
    let (s, fx) = step(&s, Event::AgentReplied { reply_id: r, in_reply_to: m });
    assert_eq!(s.status, Status::AwaitingCustomer);
    assert_eq!(s.version, 2);
    assert_eq!(fx, vec![Effect::SendReply { reply_id: r, author: Author::Ai }]);
}

#[test]
fn a_reply_to_the_wrong_message_is_a_stale_turn() {
    let m = msg();
    let (s, _) = step(&ConversationState::new(), Event::CustomerMessage { message_id: m, channel: Channel::Slack });
    let other = msg();
    let err = transition(&s, Event::AgentReplied { reply_id: msg(), in_reply_to: other }).unwrap_err();
    assert!(matches!(err, Rejected::StaleTurn { got, .. } if got == other));
}

#[test]
fn escalated_conversations_forward_customer_messages_to_humans() {
    let m = msg();
    let (s, _) = step(&ConversationState::new(), Event::CustomerMessage { message_id: m, channel: Channel::Whatsapp });
    let hold = msg();
    let (s, fx) = step(
        &s,
        Event::AgentEscalated { reason: EscalationReason::PricingInquiry, in_reply_to: m, holding_reply: Some(hold) },
    );
    assert_eq!(s.status, Status::Escalated);
    assert_eq!(
        fx,
        vec![
            Effect::OpenEscalation { reason: EscalationReason::PricingInquiry },
            Effect::SendReply { reply_id: hold, author: Author::System },
        ]
    );
    let again = msg();
    let (s, fx) = step(&s, Event::CustomerMessage { message_id: again, channel: Channel::Email });
    assert_eq!(s.status, Status::Escalated);
    assert_eq!(s.channel, Some(Channel::Email), "replies follow the customer's latest channel");
    assert_eq!(fx, vec![Effect::ForwardToHumans { message_id: again }]);
    // The AI may not answer now.
    assert!(transition(&s, Event::AgentReplied { reply_id: msg(), in_reply_to: again }).is_err());
    let (s, _) = step(&s, Event::HumanClaimed { by: "agent@tallyloom.com".into() });
    assert_eq!(s.status, Status::HumanActive);
    let r = msg();
    let (s, fx) = step(&s, Event::HumanReplied { reply_id: r, by: "agent@tallyloom.com".into() });
    assert_eq!(fx, vec![Effect::SendReply { reply_id: r, author: Author::Human }]);
    let (s, fx) = step(&s, Event::HandedBackToAi { by: "agent@tallyloom.com".into() });
    assert_eq!((s.status, fx), (Status::AwaitingCustomer, vec![Effect::CloseEscalation]));
}

#[test]
fn drafts_wait_for_approval_and_a_rejection_escalates() {
    let m = msg();
    let (s, _) = step(&ConversationState::new(), Event::CustomerMessage { message_id: m, channel: Channel::Webform });
    let a = ApprovalId::new();
    let (s, fx) = step(&s, Event::DraftNeedsApproval { approval_id: a, in_reply_to: m });
    assert_eq!((s.status, fx), (Status::AwaitingApproval, vec![Effect::QueueApproval { approval_id: a }]));
    // Someone else's approval id is refused.
    let wrong = ApprovalId::new();
    assert!(matches!(
        transition(&s, Event::DraftApproved { approval_id: wrong, reply_id: msg(), by: "x".into() }),
        Err(Rejected::UnknownApproval { .. })
    ));
    let (approved, fx) = step(&s, Event::DraftEdited { approval_id: a, reply_id: msg(), by: "x".into() });
    assert_eq!(approved.status, Status::AwaitingCustomer);
    assert!(matches!(fx[..], [Effect::SendReply { author: Author::Human, .. }]));
    let (rejected, fx) = step(&s, Event::DraftRejected { approval_id: a, by: "x".into() });
    assert_eq!(rejected.status, Status::Escalated);
    assert_eq!(fx, vec![Effect::OpenEscalation { reason: EscalationReason::HumanRequested }]);
}

#[test]
fn inactivity_resolves_and_a_new_message_reopens() {
    let m = msg();
    let (s, _) = step(&ConversationState::new(), Event::CustomerMessage { message_id: m, channel: Channel::Email });
    let (s, _) = step(&s, Event::AgentReplied { reply_id: msg(), in_reply_to: m });
    let (s, fx) = step(&s, Event::InactivityTimeout);
    assert_eq!((s.status, fx.len()), (Status::Resolved, 0));
    assert!(transition(&s, Event::InactivityTimeout).is_err());
    let (s, _) = step(&s, Event::CustomerMessage { message_id: msg(), channel: Channel::Email });
    assert_eq!(s.status, Status::Active);
}

#[test]
fn illegal_transitions_are_typed_errors() {
    let idle = ConversationState::new();
    for event in [
        Event::AgentReplied { reply_id: msg(), in_reply_to: msg() },
        Event::HumanClaimed { by: "x".into() },
        Event::Resolved { by: "x".into() },
        Event::InactivityTimeout,
        Event::HandedBackToAi { by: "x".into() },
    ] {
        let kind = event.kind();
        assert_eq!(
            transition(&idle, event),
            Err(Rejected::NotAllowed { status: Status::Idle, event: kind.to_string() })
        );
    }
}

#[test]
fn status_and_event_names_round_trip() {
    for s in Status::ALL {
        assert_eq!(Status::parse(s.as_str()), Some(s));
    }
    let e = Event::AgentEscalated { reason: EscalationReason::LegalInquiry, in_reply_to: msg(), holding_reply: None };
    let json = serde_json::to_string(&e).unwrap();
    assert!(json.contains("\"type\":\"agent_escalated\""));
    assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), e);
}

/// One step of a random walk, turned into an event against the state it
/// meets, so that many steps are accepted: `use_pending` makes it answer the
/// pending message or approval rather than a random one.
#[derive(Clone, Debug)]
struct Step {
    kind: u8,
    use_pending: bool,
    hold: bool,
    channel: Channel,
    reason: EscalationReason,
}

fn arb_step() -> impl Strategy<Value = Step> {
    let channel = proptest::sample::select(Channel::ALL.to_vec());
    let reason = proptest::sample::select(EscalationReason::ALL.to_vec());
    (0u8..13, any::<bool>(), any::<bool>(), channel, reason)
        .prop_map(|(kind, use_pending, hold, channel, reason)| Step { kind, use_pending, hold, channel, reason })
}

fn materialize(step: &Step, state: &ConversationState) -> Event {
    let answered = if step.use_pending { state.pending_message.unwrap_or_default() } else { MessageId::new() };
    let approval_id = if step.use_pending { state.pending_approval.unwrap_or_default() } else { ApprovalId::new() };
    let by = "human@example.com".to_string();
    match step.kind {
        0 | 1 => Event::CustomerMessage { message_id: MessageId::new(), channel: step.channel },
        2 => Event::AgentReplied { reply_id: MessageId::new(), in_reply_to: answered },
        3 => Event::AgentEscalated {
            reason: step.reason,
            in_reply_to: answered,
            holding_reply: step.hold.then(MessageId::new),
        },
        4 => Event::DraftNeedsApproval { approval_id: ApprovalId::new(), in_reply_to: answered },
        5 => Event::DraftApproved { approval_id, reply_id: MessageId::new(), by },
        6 => Event::DraftEdited { approval_id, reply_id: MessageId::new(), by },
        7 => Event::DraftRejected { approval_id, by },
        8 => Event::HumanClaimed { by },
        9 => Event::HumanReplied { reply_id: MessageId::new(), by },
        10 => {
            if step.hold {
                Event::HandedBackToAi { by }
            } else {
                Event::Resolved { by }
            }
        }
        11 => Event::InactivityTimeout,
        _ => Event::AgentAcknowledged { reply_id: MessageId::new(), in_reply_to: answered },
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn random_walks_keep_every_invariant(steps in proptest::collection::vec(arb_step(), 1..80)) {
        let mut state = ConversationState::new();
        let mut accepted = Vec::new();
        for step in &steps {
            let event = materialize(step, &state);
            let before = state.clone();
            match transition(&before, event.clone()) {
                Ok((next, effects)) => {
                    // state_version grows by exactly one per accepted transition.
                    prop_assert_eq!(next.version, before.version + 1);
                    // No AI reply or turn while humans own the conversation or a draft waits.
                    if before.status.is_human_owned() || before.status == Status::AwaitingApproval {
                        prop_assert!(
                            !effects.iter().any(|e| matches!(e, Effect::SendReply { author: Author::Ai, .. } | Effect::RunAgentTurn { .. })),
                            "AI acted while {:?}: {:?}", before.status, effects
                        );
                    }
                    // An acknowledgement is a holding reply, once per escalation.
                    if let Event::AgentAcknowledged { .. } = &event {
                        prop_assert_eq!(before.status, Status::Escalated);
                        prop_assert!(!before.acknowledged);
                    }
                    // The AI replies only to the message it is answering.
                    if let Event::AgentReplied { in_reply_to, .. } = &event {
                        prop_assert_eq!(before.pending_message, Some(*in_reply_to));
                    }
                    // An open turn always knows its message; only a waiting draft has an approval.
                    if next.status == Status::Active {
                        prop_assert!(next.pending_message.is_some());
                    }
                    prop_assert_eq!(next.pending_approval.is_some(), next.status == Status::AwaitingApproval);
                    state = next;
                    accepted.push(event);
                }
                Err(_) => prop_assert_eq!(&state, &before, "a rejection changes nothing"),
            }
        }
        prop_assert_eq!(state.version as usize, accepted.len());
        // Replaying the accepted events rebuilds the same state.
        prop_assert_eq!(replay(ConversationState::new(), accepted.iter()).unwrap(), state);
    }
}
