//! Console sign-in (issue #7): an API key posted to `/admin/login` starts a
//! session whose cookie (HttpOnly, SameSite=Strict) then authenticates the
//! admin API like the key; a bad key gets the form again (401) and no
//! cookie; a change made with the cookie needs `X-Requested-With:
//! fte-console` (403 without, bearer keys unaffected); signing out ends the
//! session; an hour idle ends it (use slides it forward); a revoked or
//! deleted key ends its sessions.

use crate::common::TestDb;
use fte::auth::{Role, create_key};
use fte::crm::MergePolicy;
use fte::db::{SystemJob, begin_system_job};
use reqwest::header::{HeaderMap, SET_COOKIE};
use serde_json::Value;

async fn start(db: &TestDb) -> crate::common::RunningApp {
    let settings = crate::common::serve_settings(&[
        "--database-url",
        &db.url,
        "--http-addr",
        "127.0.0.1:0",
        "--kafka-brokers",
        "",
    ]);
    crate::common::start_app(&settings).await
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

struct Answer {
    status: u16,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    fn set_cookie(&self) -> Option<String> {
        self.headers.get(SET_COOKIE).map(|v| v.to_str().unwrap().to_string())
    }
}

async fn answer(r: reqwest::RequestBuilder) -> Answer {
    let r = r.send().await.unwrap();
    let (status, headers) = (r.status().as_u16(), r.headers().clone());
    Answer { status, headers, body: r.text().await.unwrap() }
}

/// Posts the sign-in form.
async fn login(base: &str, key: &str, origin: Option<&str>) -> Answer {
    let mut r = client()
        .post(format!("{base}/admin/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("api_key={key}"));
    if let Some(o) = origin {
        r = r.header("origin", o);
    }
    answer(r).await
}

/// Signs in and returns the `Cookie` header value of the session.
async fn sign_in(base: &str, key: &str) -> String {
    let a = login(base, key, Some(base)).await;
    assert_eq!(a.status, 303, "{}", a.body);
    let cookie = a.set_cookie().expect("a session cookie");
    cookie.split(';').next().unwrap().to_string()
}

async fn get(base: &str, path: &str, cookie: Option<&str>) -> Answer {
    let mut r = client().get(format!("{base}{path}"));
    if let Some(c) = cookie {
        r = r.header("cookie", c);
    }
    answer(r).await
}

async fn sessions(db: &TestDb) -> i64 {
    let mut tx = begin_system_job(&db.pool, SystemJob::ApiAuth).await.unwrap();
    let n = sqlx::query_scalar("SELECT count(*) FROM admin_sessions").fetch_one(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
    n
}

/// Runs one statement on the sessions and keys (the api_auth system job).
async fn auth_sql(db: &TestDb, sql: &'static str) -> u64 {
    let mut tx = begin_system_job(&db.pool, SystemJob::ApiAuth).await.unwrap();
    let n = sqlx::query(sql).execute(&mut *tx).await.unwrap().rows_affected();
    tx.commit().await.unwrap();
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_signs_in_and_the_session_cookie_stands_for_it() {
    let db = TestDb::new().await;
    let tenant = db.tenant("tenant-a", MergePolicy::Manual).await.id;
    let (_, agent) = create_key(&db.pool, Some(tenant), Role::Agent, "Ana").await.unwrap();
    let app = start(&db).await;
    let base = format!("http://{}", app.addr);

    // Signed out: the sign-in form, under a strict CSP.
    let page = get(&base, "/admin", None).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("action=\"/admin/login\"") && page.body.contains("name=\"api_key\""), "{}", page.body);
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.starts_with("default-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");

    // A bad key: the form again with an error, 401, no cookie.
    let bad = login(&base, "fte_0123456789ab_notarealsecretnotarealsecretnotarealsecret1", Some(&base)).await;
    assert_eq!(bad.status, 401);
    assert!(bad.body.contains("data-testid=\"sign-in-error\""), "{}", bad.body);
    assert!(bad.set_cookie().is_none());
    let empty = login(&base, "", Some(&base)).await;
    assert_eq!((empty.status, empty.set_cookie()), (401, None));
    // The right key posted from another site: refused, no cookie.
    let forged = login(&base, &agent, Some("https://evil.example")).await;
    assert_eq!((forged.status, forged.set_cookie()), (403, None));
    assert_eq!(sessions(&db).await, 0);

    // The right key: 303 to the console with the session cookie.
    let ok = login(&base, &agent, Some(&base)).await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    assert_eq!(ok.headers["location"], "/admin");
    let set = ok.set_cookie().expect("a session cookie");
    let attributes: Vec<&str> = set.split(';').map(str::trim).collect();
    assert!(attributes[0].starts_with("fte_session=") && attributes[0].len() > "fte_session=".len() + 40, "{set}");
    for want in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(attributes.contains(&want), "{want} missing from {set}");
    }
    assert!(!attributes.contains(&"Secure"), "plain-http deployment: {set}");
    assert!(!set.contains(&agent), "the key never goes into the cookie");
    let cookie = attributes[0].to_string();
    assert_eq!(sessions(&db).await, 1);

    // The cookie opens the console and the API, as the key would.
    let shell = get(&base, "/admin", Some(&cookie)).await;
    assert_eq!(shell.status, 200);
    assert!(shell.body.contains("src=\"/admin/console.js\""), "{}", shell.body);
    assert!(!shell.body.contains("name=\"api_key\""));
    let queue = get(&base, "/api/v1/escalations", Some(&cookie)).await;
    assert_eq!(queue.status, 200, "{}", queue.body);
    assert_eq!(queue.json()["items"], Value::Array(vec![]));
    let me = get(&base, "/admin/session", Some(&cookie)).await.json();
    assert_eq!((me["name"].as_str(), me["role"].as_str()), (Some("Ana"), Some("agent")));
    assert_eq!(me["tenant"], tenant.to_string());
    assert_eq!(get(&base, "/admin/session", None).await.status, 401);

    // Changes with the cookie need the console's header; keys do not.
    let claim = format!("{base}/api/v1/conversations/{}/claim", uuid::Uuid::now_v7());
    let bare = answer(client().post(&claim).header("cookie", &cookie)).await;
    assert_eq!(bare.status, 403, "{}", bare.body);
    assert_eq!(bare.headers["content-type"], "application/problem+json");
    assert!(bare.json()["detail"].as_str().unwrap().contains("X-Requested-With"), "{}", bare.body);
    let wrong =
        answer(client().post(&claim).header("cookie", &cookie).header("x-requested-with", "XMLHttpRequest")).await;
    assert_eq!(wrong.status, 403);
    let with = answer(client().post(&claim).header("cookie", &cookie).header("x-requested-with", "fte-console")).await;
    assert_eq!(with.status, 404, "authenticated, and no such conversation: {}", with.body);
    let keyed = answer(client().post(&claim).bearer_auth(&agent)).await;
    assert_eq!(keyed.status, 404, "{}", keyed.body);
    // Reads need no header; a made-up cookie is 401.
    assert_eq!(get(&base, "/api/v1/conversations", Some(&cookie)).await.status, 200);
    let forged =
        get(&base, "/api/v1/escalations", Some("fte_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")).await;
    assert_eq!(forged.status, 401);

    // The console's own files: right types, revalidated, same CSP.
    for (path, kind) in [("/admin/console.js", "text/javascript"), ("/admin/console.css", "text/css")] {
        let a = get(&base, path, None).await;
        assert_eq!(a.status, 200, "{path}");
        assert!(a.headers["content-type"].to_str().unwrap().starts_with(kind), "{path}");
        assert_eq!(a.headers["cache-control"], "no-cache", "{path}");
        assert!(a.headers["content-security-policy"].to_str().unwrap().starts_with("default-src 'self'"));
    }

    // Signing out: only with the console's header; then the cookie is dead.
    let logout = format!("{base}/admin/logout");
    assert_eq!(answer(client().post(&logout).header("cookie", &cookie)).await.status, 403);
    assert_eq!(get(&base, "/api/v1/escalations", Some(&cookie)).await.status, 200);
    let out = answer(client().post(&logout).header("cookie", &cookie).header("x-requested-with", "fte-console")).await;
    assert_eq!(out.status, 204, "{}", out.body);
    assert!(out.set_cookie().unwrap().contains("Max-Age=0"));
    assert_eq!(sessions(&db).await, 0);
    let after = get(&base, "/api/v1/escalations", Some(&cookie)).await;
    assert_eq!(after.status, 401, "{}", after.body);
    assert!(get(&base, "/admin", Some(&cookie)).await.body.contains("name=\"api_key\""));

    let _ = app.stop.send(());
    let _ = app.task.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_end_when_idle_and_with_their_key() {
    let db = TestDb::new().await;
    let tenant = db.tenant("tenant-a", MergePolicy::Manual).await.id;
    let (_, agent) = create_key(&db.pool, Some(tenant), Role::Agent, "Ana").await.unwrap();
    let (_, viewer) = create_key(&db.pool, Some(tenant), Role::Viewer, "Vic").await.unwrap();
    let (_, admin) = create_key(&db.pool, None, Role::Admin, "root").await.unwrap();
    let app = start(&db).await;
    let base = format!("http://{}", app.addr);

    // 50 minutes idle: still live, and using it slides the expiry forward.
    let sliding = sign_in(&base, &agent).await;
    assert_eq!(auth_sql(&db, "UPDATE admin_sessions SET last_seen_at = now() - interval '50 minutes'").await, 1);
    assert_eq!(get(&base, "/api/v1/escalations", Some(&sliding)).await.status, 200);
    let recent: i64 = {
        let mut tx = begin_system_job(&db.pool, SystemJob::ApiAuth).await.unwrap();
        let n =
            sqlx::query_scalar("SELECT count(*) FROM admin_sessions WHERE last_seen_at > now() - interval '1 minute'")
                .fetch_one(&mut *tx)
                .await
                .unwrap();
        tx.commit().await.unwrap();
        n
    };
    assert_eq!(recent, 1, "use moved last_seen_at forward");

    // Two hours idle: over (401), and the row is gone.
    assert_eq!(auth_sql(&db, "UPDATE admin_sessions SET last_seen_at = now() - interval '2 hours'").await, 1);
    let idle = get(&base, "/api/v1/escalations", Some(&sliding)).await;
    assert_eq!(idle.status, 401, "{}", idle.body);
    assert!(idle.json()["detail"].as_str().unwrap().contains("expired"), "{}", idle.body);
    assert_eq!(sessions(&db).await, 0);
    let page = get(&base, "/admin", Some(&sliding)).await;
    assert!(page.body.contains("name=\"api_key\""), "an expired session gets the sign-in form");
    assert!(page.set_cookie().unwrap().contains("Max-Age=0"));

    // A revoked key ends its sessions.
    let revoked = sign_in(&base, &viewer).await;
    assert_eq!(get(&base, "/api/v1/escalations", Some(&revoked)).await.status, 200);
    assert_eq!(auth_sql(&db, "UPDATE api_keys SET revoked_at = now() WHERE name = 'Vic'").await, 1);
    assert_eq!(get(&base, "/api/v1/escalations", Some(&revoked)).await.status, 401);

    // A deleted key takes its sessions with it; other sessions live on.
    let doomed = sign_in(&base, &agent).await;
    let global = sign_in(&base, &admin).await;
    assert_eq!(get(&base, "/api/v1/escalations", Some(&doomed)).await.status, 200);
    assert_eq!(sessions(&db).await, 2);
    assert_eq!(auth_sql(&db, "DELETE FROM api_keys WHERE name = 'Ana'").await, 1);
    assert_eq!(sessions(&db).await, 1);
    assert_eq!(get(&base, "/api/v1/escalations", Some(&doomed)).await.status, 401);

    // A global admin's session needs the tenant named, like its key.
    let me = get(&base, "/admin/session", Some(&global)).await.json();
    assert_eq!((me["role"].as_str(), &me["tenant"]), (Some("admin"), &Value::Null));
    assert_eq!(get(&base, "/api/v1/escalations", Some(&global)).await.status, 400);
    let scoped = get(&base, &format!("/api/v1/escalations?tenant={tenant}"), Some(&global)).await;
    assert_eq!(scoped.status, 200, "{}", scoped.body);

    let _ = app.stop.send(());
    let _ = app.task.await;
}
