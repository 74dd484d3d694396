use super::*;

#[test]
fn condensing_keeps_the_sentences_that_answer_the_question() {
    let paragraphs = vec![
        "**Offline mode**\nThe mobile app works without a connection. Entries you make offline are stored on the device. They sync automatically when you're back online.".to_string(),
        "- Don't sign out while offline: unsynced entries would be lost.\n- Photos are uploaded later.".to_string(),
        "Tallyloom runs on iOS 16 and Android 12 or newer.".to_string(),
    ];
    let got = condense(&paragraphs, "Will my offline entries sync when I'm back online? Can I sign out?", 200);
    let text = got.join("\n\n");
    assert!(text.contains("sync automatically when you're back online"), "{text}");
    assert!(text.contains("Don't sign out"), "{text}");
    assert!(!text.contains("Offline mode**"), "{text}");
    assert!(text.chars().count() <= 210, "{text}");
    // The best unit is kept even when it alone is over the budget.
    let got = condense(&paragraphs, "sign out offline", 10);
    assert_eq!(got.len(), 1);
    assert!(got[0].contains("sign out"));
}

#[test]
fn the_focused_answer_leads_with_the_answer_and_keeps_its_condition() {
    let paragraphs = vec![
        "Tallyloom protects your account in several ways.".to_string(),
        "- Two-factor authentication on all plans.\n- See your sessions under **Profile > Security**.".to_string(),
        "Sessions last 14 days by default. On Enterprise, Admins can set how long sessions last, from 1 hour to 30 days, under **Settings > Security > Session length**.".to_string(),
    ];
    let units = answer_units(&paragraphs);
    let scores = lexical_scores(&units, "how long do sessions last, can I change the session length?");
    let (out, lead) = focused(&units, &scores, &scores, 1000, true);
    let lead = lead.unwrap_or_default();
    // The answer comes first, with who may do it and on which plan.
    assert!(out[0] == lead, "{out:?}");
    assert!(lead.contains("On Enterprise, Admins can set"), "{lead}");
    assert!(!out[0].starts_with("Tallyloom protects"), "{out:?}");
    // Everything else still follows, once.
    let text = out.join("\n\n");
    assert_eq!(text.matches("Session length").count(), 1, "{text}");
    assert!(text.contains("Tallyloom protects"), "{text}");
}

#[test]
fn a_sentence_keeps_the_condition_next_to_it_even_in_a_short_budget() {
    let paragraphs = vec![
        "A timer that has been running for 12 hours stops automatically. The entry is saved and flagged **Check duration** so you can correct it.".to_string(),
        "Guests don't use a paid seat. Guests can't track time or open reports.".to_string(),
    ];
    let units = answer_units(&paragraphs);
    let group = lead_group(&units, 0, false);
    assert_eq!(group, vec![0, 1], "the continuation goes with it");
    // "Guests can't track time" sets a condition: it goes with its neighbour.
    assert_eq!(lead_group(&units, 2, false), vec![2, 3]);
    let scores = lexical_scores(&units, "forgot to stop the timer, 12 hours");
    let (out, _) = focused(&units, &scores, &scores, 10, false);
    assert!(out[0].contains("Check duration"), "{out:?}");
    assert!(is_condition("On Enterprise, Admins can set it") && is_condition("Guests can’t track time"));
    assert!(!is_condition("Click Save to keep your changes."));
}

#[test]
fn a_step_leads_with_its_lead_in_and_the_whole_list_where_there_is_room() {
    let paragraphs = vec![
        "Only Owners can transfer ownership:\n1. Open **Settings > General**.\n2. Click **Transfer ownership**."
            .to_string(),
    ];
    let units = answer_units(&paragraphs);
    assert_eq!(lead_group(&units, 2, true), vec![0, 1, 2]);
    assert_eq!(lead_group(&units, 2, false), vec![0, 2]);
}

#[test]
fn a_short_channel_quotes_the_leads_whole_list_when_it_fits() {
    let paragraphs = vec![
        "Changes show up within 15 minutes.".to_string(),
        "- Check that the task has a due date.\n- Check that the calendar is ticked.\n- Click **Sync now**."
            .to_string(),
    ];
    let units = answer_units(&paragraphs);
    let scores = lexical_scores(&units, "is the calendar ticked");
    let (out, lead) = focused(&units, &scores, &scores, 200, false);
    assert_eq!(out[0], paragraphs[1], "{out:?}");
    assert_eq!(lead.as_deref(), Some(paragraphs[1].as_str()));
    // Without room for the list, the item comes alone.
    let (out, _) = focused(&units, &scores, &scores, 60, false);
    assert_eq!(out[0], "- Check that the calendar is ticked.", "{out:?}");
}

#[test]
fn a_second_unit_without_room_for_what_continues_it_comes_alone() {
    let paragraphs = vec![
        "Hover over it and click **Restore**.".to_string(),
        "Items stay in Trash for 30 days. After that they are permanently deleted.".to_string(),
    ];
    let units = answer_units(&paragraphs);
    let scores = [1.0, 0.9, 0.0];
    let (out, _) = focused(&units, &scores, &scores, 75, false);
    assert_eq!(out, vec!["Hover over it and click **Restore**.", "Items stay in Trash for 30 days."]);
    let (out, _) = focused(&units, &scores, &scores, 200, false);
    assert!(out[1].ends_with("permanently deleted."), "{out:?}");
}

#[test]
fn a_table_is_one_unit() {
    let paragraphs =
        vec!["| Source | What |\n|---|---|\n| Toggl | A detailed report |".to_string(), "Done.".to_string()];
    let units = answer_units(&paragraphs);
    assert_eq!(units.len(), 2);
    assert!(units[0].text.contains("| Source |") && units[0].text.contains("detailed report"));
}

#[test]
fn every_holding_reply_names_the_team_and_never_the_code() {
    let c = AgentConfig::default();
    for reason in EscalationReason::ALL {
        for channel in Channel::ALL {
            let p = holding_reply(reason, channel, Some("Jo"), false, false, &c);
            let text = p.paragraphs.join(" ");
            assert!(text.contains(follow_up_line(reason)) || text.contains(follow_up_line(reason)), "{text}");
            assert!(!text.contains(reason.as_str()), "{text}");
            assert!(text.contains("08:00–20:00 CET"));
        }
    }
}

#[test]
fn first_names() {
    assert_eq!(first_name("Mikko Laine").as_deref(), Some("Mikko"));
    assert_eq!(first_name("  ").as_deref(), None);
    assert_eq!(first_name("Patrick O'Neill").as_deref(), Some("Patrick"));
}

fn section(content: &str) -> SearchHit {
    SearchHit {
        id: uuid::Uuid::nil(),
        document: "billing-seats.md".into(),
        title: String::new(),
        heading: String::new(),
        chunk_index: 1,
        content: content.into(),
        cosine: 0.5,
        bm25: 1.0,
        matched: 0.0,
        score: 0.0,
        focus_matched: Vec::new(),
        path: Vec::new(),
    }
}

#[test]
fn a_list_stays_with_the_sentence_that_introduces_it() {
    let what = section(
        "Each active Member uses one seat. These don't use a seat:\n\n- Guests\n- Pending invitations\n\nSee your seats under **Settings > Billing > Seats**.",
    );
    let next = section("- Add seats under **Settings > Billing > Seats > Add seats**.");
    let paragraphs = answer_paragraphs(&[&section("Seats are billed monthly, as follows:"), &what, &next]);
    // The list joins its lead-in; a list in the next section does not join
    // the previous section's last sentence.
    assert_eq!(paragraphs.len(), 4, "{paragraphs:?}");
    assert_eq!(
        paragraphs[1],
        "Each active Member uses one seat. These don't use a seat:\n- Guests\n- Pending invitations"
    );
    let units = answer_units(&paragraphs);
    let guests = units.iter().position(|u| u.text == "- Guests").unwrap_or_default();
    let group: Vec<&str> = lead_group(&units, guests, false).into_iter().map(|i| units[i].text.as_str()).collect();
    assert!(group.contains(&"These don't use a seat:"), "{group:?}");
}

#[test]
fn a_step_quoted_without_the_steps_before_it_loses_its_number() {
    let paragraphs = vec![
        "1. Go to the sign-in page and click **Forgot password?**.\n2. Enter the email address you sign in with.\n3. Open the email from no-reply@tallyloom.com.".to_string(),
        "Reset emails can take up to 5 minutes to arrive.".to_string(),
    ];
    let units = answer_units(&paragraphs);
    let scores = lexical_scores(&units, "the reset email from no-reply never arrives, 5 minutes?");
    let (out, _) = focused(&units, &scores, &scores, 110, false);
    let text = out.join("\n");
    assert!(text.contains("- Open the email from no-reply@tallyloom.com."), "{text}");
    assert!(!text.contains("3. Open"), "{text}");
    // With room for every step, the numbers stay.
    let (out, _) = focused(&units, &scores, &scores, 1000, true);
    assert!(out.join("\n").contains("3. Open the email"), "{out:?}");
}
