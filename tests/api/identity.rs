//! Identity resolution against the real database: the sample tickets'
//! returning customers are recognised across channels, conflicting
//! identifiers become merge candidates (merged only under the `auto`
//! policy), and concurrent first contacts create one customer.

use crate::common::{TestDb, sample_tickets};
use fte::crm::{MergePolicy, merge_customers, resolve_customer};
use fte::db::begin_tenant;
use fte::domain::{Channel, CustomerId, EmailAddress, Identifier, PhoneNumber, SlackUserId, TenantId};
use std::collections::{BTreeMap, BTreeSet};

/// The identifiers a ticket's sender presents, the sender's own address on
/// the ticket's channel first.
fn identifiers_of(ticket: &serde_json::Value) -> Vec<Identifier> {
    let channel: Channel = ticket["channel"].as_str().unwrap().parse().unwrap();
    let c = &ticket["customer"];
    let email = c["email"].as_str().map(|e| Identifier::Email(EmailAddress::parse(e).unwrap()));
    let phone = c["phone"].as_str().map(|p| PhoneNumber::parse(p).unwrap());
    let slack = c["slack_user"].as_str().map(|s| Identifier::Slack(SlackUserId::parse(s).unwrap()));
    let mut ids = Vec::new();
    match channel {
        Channel::Whatsapp => ids.extend(phone.clone().map(Identifier::Whatsapp)),
        Channel::Slack => ids.extend(slack.clone()),
        Channel::Email | Channel::Webform => ids.extend(email.clone()),
    }
    ids.extend(email);
    ids.extend(phone.map(Identifier::Phone));
    ids.extend(slack);
    let mut unique = Vec::new();
    for id in ids {
        if !unique.contains(&id) {
            unique.push(id);
        }
    }
    unique
}

async fn customers_in(db: &TestDb, tenant: TenantId) -> i64 {
    let mut tx = begin_tenant(&db.pool, tenant).await.unwrap();
    sqlx::query_scalar("SELECT count(*) FROM customers WHERE merged_into IS NULL").fetch_one(&mut *tx).await.unwrap()
}

#[tokio::test]
async fn sample_returning_customers_resolve_to_one_customer() {
    let db = TestDb::new().await;
    let tenant = db.tenant("tallyloom", MergePolicy::Manual).await.id;
    let mut by_ticket: BTreeMap<String, CustomerId> = BTreeMap::new();
    for ticket in sample_tickets() {
        let ids = identifiers_of(&ticket);
        let name = ticket["customer"]["name"].as_str();
        let r = resolve_customer(&db.pool, tenant, &ids, name).await.unwrap();
        assert!(r.merge_candidates.is_empty(), "{}: unexpected merge candidate", ticket["id"]);
        by_ticket.insert(ticket["id"].as_str().unwrap().to_string(), r.customer_id);
    }
    for (first, again) in [("T012", "T048"), ("T017", "T020"), ("T034", "T035")] {
        assert_eq!(by_ticket[first], by_ticket[again], "{again} should be the same customer as {first}");
    }
    // Everyone else is a different person: 60 tickets, 3 returning.
    let distinct: BTreeSet<_> = by_ticket.values().collect();
    assert_eq!(distinct.len(), 57);
    assert_eq!(customers_in(&db, tenant).await, 57);
}

#[tokio::test]
async fn normalised_forms_match_and_new_identifiers_are_linked() {
    let db = TestDb::new().await;
    let tenant = db.tenant("acme", MergePolicy::Manual).await.id;
    let email = Identifier::Email(EmailAddress::parse("Kwame@Asante-Studio.com").unwrap());
    let first = resolve_customer(&db.pool, tenant, &[email], Some("Kwame Asante")).await.unwrap();
    assert!(first.created);

    // Same address typed differently, now with a phone from the signature.
    let again = resolve_customer(
        &db.pool,
        tenant,
        &[
            Identifier::Email(EmailAddress::parse("  kwame@asante-studio.COM ").unwrap()),
            Identifier::Phone(PhoneNumber::parse("+44 7700 900418").unwrap()),
        ],
        None,
    )
    .await
    .unwrap();
    assert_eq!(again.customer_id, first.customer_id);
    assert!(!again.created);
    assert_eq!(again.linked, vec![Identifier::Phone(PhoneNumber::parse("+447700900418").unwrap())]);

    // The WhatsApp number (Twilio's `whatsapp:` form) is the same phone.
    let wa = resolve_customer(
        &db.pool,
        tenant,
        &[Identifier::Whatsapp(PhoneNumber::parse("whatsapp:+447700900418").unwrap())],
        None,
    )
    .await
    .unwrap();
    assert_eq!(wa.customer_id, first.customer_id);
    assert!(wa.linked.is_empty(), "a phone already known is not linked twice");
    assert_eq!(customers_in(&db, tenant).await, 1);
}

#[tokio::test]
async fn an_empty_identifier_list_is_an_error() {
    let db = TestDb::new().await;
    let tenant = db.tenant("acme", MergePolicy::Manual).await.id;
    let err = resolve_customer(&db.pool, tenant, &[], None).await.unwrap_err();
    assert!(matches!(err, fte::crm::CrmError::NoIdentifiers));
}

/// Two customers exist; then one message carries both their identifiers.
async fn two_customers_tied_together(
    db: &TestDb,
    policy: MergePolicy,
) -> (TenantId, CustomerId, CustomerId, fte::crm::Resolution) {
    let tenant = db.tenant("acme", policy).await.id;
    let email = Identifier::Email(EmailAddress::parse("lena.hoffmann@strandwerk.de").unwrap());
    let phone = Identifier::Whatsapp(PhoneNumber::parse("+4915112345678").unwrap());
    let by_email = resolve_customer(&db.pool, tenant, std::slice::from_ref(&email), None).await.unwrap().customer_id;
    let by_phone = resolve_customer(&db.pool, tenant, std::slice::from_ref(&phone), None).await.unwrap().customer_id;
    assert_ne!(by_email, by_phone);
    // A WhatsApp message (sender: the phone) whose text gives the email.
    let tied = resolve_customer(&db.pool, tenant, &[phone, email], None).await.unwrap();
    (tenant, by_email, by_phone, tied)
}

#[tokio::test]
async fn conflicting_identifiers_record_a_merge_candidate_and_never_merge_silently() {
    let db = TestDb::new().await;
    let (tenant, by_email, by_phone, tied) = two_customers_tied_together(&db, MergePolicy::Manual).await;
    assert_eq!(tied.customer_id, by_phone, "the message belongs to the sender's own identifier");
    assert_eq!(tied.merge_candidates, vec![by_email]);
    assert!(tied.merged.is_empty());
    assert_eq!(customers_in(&db, tenant).await, 2, "nothing merged");

    let mut tx = begin_tenant(&db.pool, tenant).await.unwrap();
    let (a, b, status): (uuid::Uuid, uuid::Uuid, String) =
        sqlx::query_as("SELECT customer_a, customer_b, status FROM customer_merge_candidates")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    tx.commit().await.unwrap();
    let pair: BTreeSet<_> = [a, b].into_iter().collect();
    assert_eq!(pair, [by_email.as_uuid(), by_phone.as_uuid()].into_iter().collect());
    assert_eq!(status, "pending");

    // The same message again records nothing new.
    let email = Identifier::Email(EmailAddress::parse("lena.hoffmann@strandwerk.de").unwrap());
    let phone = Identifier::Whatsapp(PhoneNumber::parse("+4915112345678").unwrap());
    resolve_customer(&db.pool, tenant, &[phone, email], None).await.unwrap();
    let mut tx = begin_tenant(&db.pool, tenant).await.unwrap();
    let candidates: i64 =
        sqlx::query_scalar("SELECT count(*) FROM customer_merge_candidates").fetch_one(&mut *tx).await.unwrap();
    assert_eq!(candidates, 1);
    tx.commit().await.unwrap();

    // A human merges them: one customer with both identifiers.
    merge_customers(&db.pool, tenant, by_email, by_phone).await.unwrap();
    assert_eq!(customers_in(&db, tenant).await, 1);
    let r =
        resolve_customer(&db.pool, tenant, &[Identifier::Phone(PhoneNumber::parse("+4915112345678").unwrap())], None)
            .await
            .unwrap();
    assert_eq!(r.customer_id, by_email);
    let mut tx = begin_tenant(&db.pool, tenant).await.unwrap();
    let status: String =
        sqlx::query_scalar("SELECT status FROM customer_merge_candidates").fetch_one(&mut *tx).await.unwrap();
    assert_eq!(status, "merged");
}

#[tokio::test]
async fn the_auto_policy_merges_into_the_oldest_customer_and_says_so() {
    let db = TestDb::new().await;
    let (tenant, by_email, by_phone, tied) = two_customers_tied_together(&db, MergePolicy::Auto).await;
    assert_eq!(tied.customer_id, by_email, "kept the oldest customer");
    assert_eq!(tied.merged, vec![by_phone]);
    assert!(tied.merge_candidates.is_empty());
    assert_eq!(customers_in(&db, tenant).await, 1);
    let mut tx = begin_tenant(&db.pool, tenant).await.unwrap();
    let (status, merged_into): (String, Option<uuid::Uuid>) =
        sqlx::query_as("SELECT m.status, c.merged_into FROM customer_merge_candidates m JOIN customers c ON c.id = $1")
            .bind(by_phone)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    assert_eq!(status, "merged");
    assert_eq!(merged_into, Some(by_email.as_uuid()));
}

#[tokio::test]
async fn merging_refuses_self_and_unknown_customers() {
    let db = TestDb::new().await;
    let tenant = db.tenant("acme", MergePolicy::Manual).await.id;
    let c = resolve_customer(&db.pool, tenant, &[Identifier::Email(EmailAddress::parse("a@b.co").unwrap())], None)
        .await
        .unwrap()
        .customer_id;
    assert!(matches!(merge_customers(&db.pool, tenant, c, c).await, Err(fte::crm::CrmError::SelfMerge(_))));
    let ghost = CustomerId::new();
    assert!(matches!(
        merge_customers(&db.pool, tenant, c, ghost).await,
        Err(fte::crm::CrmError::CustomerNotFound(id)) if id == ghost
    ));
}

#[tokio::test]
async fn concurrent_first_contacts_create_one_customer() {
    let db = TestDb::new().await;
    let tenant = db.tenant("acme", MergePolicy::Manual).await.id;
    let ids = vec![
        Identifier::Email(EmailAddress::parse("race@example.com").unwrap()),
        Identifier::Phone(PhoneNumber::parse("+31612345678").unwrap()),
    ];
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let pool = db.pool.clone();
            let ids = ids.clone();
            tokio::spawn(async move { resolve_customer(&pool, tenant, &ids, None).await })
        })
        .collect();
    let mut winners = BTreeSet::new();
    for t in tasks {
        winners.insert(t.await.unwrap().unwrap().customer_id);
    }
    assert_eq!(winners.len(), 1, "every concurrent resolution found the same customer");
    assert_eq!(customers_in(&db, tenant).await, 1);
}
