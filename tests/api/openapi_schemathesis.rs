//! schemathesis (PyPI), an independent property-based client, against the
//! OpenAPI document the app serves at `/api/v1/openapi.json`: for every
//! operation it generates requests from the document (a bounded number of
//! examples per operation) and checks that no response is a server error
//! and that every documented response matches its schema. It runs against
//! an app with data in it (conversations in several states, an escalation,
//! a draft, a ticket) and a tenant admin's key, so the generated requests
//! reach the handlers' real paths rather than stopping at 401.

use crate::common::TestDb;
use fte::auth::{Role, create_key};
use fte::crm::MergePolicy;
use std::process::Command;

const INJECT: &str = "schemathesis-inject-token";

fn schemathesis() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".dev/venv/bin/schemathesis")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_served_openapi_document_holds_under_schemathesis() {
    let db = TestDb::new().await;
    let tenant = db.tenant("tallyloom", MergePolicy::Manual).await.id;
    let app = crate::common::start_injectable(&db, INJECT, &[]).await;
    let addr = app.addr;
    let texts = ["How do I export invoices?", "I want to talk to a human", "Please draft a reply about refunds"];
    for (i, text) in texts.iter().enumerate() {
        crate::common::inject(addr, INJECT, tenant, "email", &format!("st{i}@example.com"), &format!("st-{i}"), text)
            .await;
    }
    let (_, key) = create_key(&db.pool, Some(tenant), Role::Admin, "schemathesis").await.unwrap();

    let url = format!("http://{addr}/api/v1/openapi.json");
    let out = tokio::task::spawn_blocking(move || {
        Command::new(schemathesis())
            .args(["run", &url, "--checks", "not_a_server_error,response_schema_conformance,content_type_conformance"])
            .args(["--max-examples", "12", "--seed", "20261202", "--workers", "1", "--no-color"])
            .args(["--header", &format!("Authorization: Bearer {key}")])
            .env("SCHEMATHESIS_HOOKS", "")
            .output()
            .expect("run schemathesis (make setup installs it)")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "schemathesis found problems:\n{stdout}\n{stderr}");
    let _ = app.stop.send(());
    let _ = app.task.await;
}
