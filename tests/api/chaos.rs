//! The chaos harness in its reduced mode (`scripts/chaos.py --quick`,
//! docs/chaos.md) against this build of the binary: 100 customers × 10
//! WhatsApp messages through signed Twilio webhooks while a worker is
//! SIGKILLed twice, the dispatcher and the broker once each, and the app's
//! PostgreSQL is stopped for 8 s; every acknowledged message must reach the
//! (fake) provider exactly once, in the customer's order. The harness starts
//! everything it needs itself (its own PostgreSQL clusters, broker, fake
//! Twilio, api/worker/dispatcher processes) and exits 0 only when the
//! promise held; its summary is printed here.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Far above the < 4 minutes the quick run takes alone, for a busy machine.
const TIMEOUT: Duration = Duration::from_secs(15 * 60);

#[test]
fn quick_chaos_run_keeps_every_promise() {
    let python = std::env::var("FTE_PYTHON").expect("FTE_PYTHON is not set: run the tests with `make test`");
    let root = env!("CARGO_MANIFEST_DIR");
    let out = format!("{root}/target/chaos/test-quick-report.json");
    let mut child = Command::new(python)
        .arg(format!("{root}/scripts/chaos.py"))
        .args(["--quick", "--fte", env!("CARGO_BIN_EXE_fte"), "--out", &out])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start scripts/chaos.py");

    // Echo the harness's output as it comes (the test runner shows it when
    // the test fails, or with --no-capture).
    let stdout = child.stdout.take().expect("stdout piped");
    let stderr = child.stderr.take().expect("stderr piped");
    let echo_out = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            println!("{line}");
        }
    });
    let echo_err = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("{line}");
        }
    });

    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll the harness") {
            break status;
        }
        if started.elapsed() > TIMEOUT {
            // SIGTERM first: the harness stops what it started and keeps its
            // logs; SIGKILL if it does not finish.
            let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
            let grace = Instant::now();
            while child.try_wait().expect("poll the harness").is_none() && grace.elapsed() < Duration::from_secs(60) {
                std::thread::sleep(Duration::from_millis(200));
            }
            let _ = child.kill();
            let _ = child.wait();
            let _ = echo_out.join();
            let _ = echo_err.join();
            panic!("the chaos harness did not finish within {TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let _ = echo_out.join();
    let _ = echo_err.join();
    assert!(
        status.success(),
        "the chaos harness reported a broken promise or could not run ({status}); summary above, report in {out}"
    );
}
