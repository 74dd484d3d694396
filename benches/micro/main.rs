//! Microbenchmarks (criterion) of the pieces every customer turn goes
//! through (issue #8, item 1). Run with `make bench-micro`.
//!
//! Pure groups, no IO ([`pure`]):
//! - `transition`: the conversation state machine on the two transitions
//!   of every turn;
//! - `format_for_channel`: a three-paragraph answer rendered per channel;
//! - `signatures`: webhook signature checks (Twilio, Slack v0, Meta
//!   `X-Hub-Signature-256`) of realistic requests.
//!
//! Groups against PostgreSQL ([`db`]), only when `DATABASE_URL` is set (the
//! bench creates a database of its own and drops it at the end):
//! - `actor_round_trip`: `Inspect` to a resident conversation actor through
//!   the supervisor, and whole customer turns through `Runtime::submit`
//!   with the echo brain;
//! - `turn_persistence`: `commit_turn` of a first turn, a fresh customer
//!   each time;
//! - `kb_search`: hybrid search over the sample knowledge base with the
//!   hashing embedder.

use criterion::Criterion;

mod db;
mod pure;

fn main() {
    // Test runners list targets with `--list` (`cargo nextest list
    // --benches`): this is a benchmark, it has no tests to list, and an
    // empty list keeps `cargo nextest run` from running it.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    pure::transition(&mut c);
    pure::format_for_channel(&mut c);
    pure::signatures(&mut c);
    match std::env::var("DATABASE_URL") {
        Ok(url) => {
            if let Err(e) = db::run(&mut c, &url) {
                eprintln!("database groups failed: {e}");
                std::process::exit(1);
            }
        }
        Err(_) => eprintln!(
            "note: DATABASE_URL is not set: skipping actor_round_trip, turn_persistence and kb_search \
             (`make bench-micro` sets it)"
        ),
    }
    c.final_summary();
}
