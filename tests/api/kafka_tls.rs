//! Transport security to Kafka against a tansu broker of each test's own:
//! TLS with the brokers' CA, with another CA and in plain text, mutual TLS,
//! SASL SCRAM (SHA-256, SHA-512) over TLS and in plain text, and a wrong
//! password. Every client is the service's own (`KafkaConnection::
//! client_config` under the admin client of `ensure_topics`, the producer,
//! the group consumer and the health probe), its connection parsed from
//! the same flags as `serve`'s; a failure must say why.
//!
//! tansu 0.6 does not serve TLS: its `--cert` and `--key` flags exclude
//! each other, and its listener never uses the TLS acceptor it would build
//! from them (`tansu_takes_no_certificate_and_key` keeps that known). So a
//! rustls proxy in the test terminates TLS in front of the broker's plain
//! listener, and the broker advertises the proxy's address: every
//! connection a client makes, to the bootstrap address and to the brokers
//! the metadata names, is TLS. SASL is tansu's own (`--authentication`):
//! it offers SCRAM-SHA-256, SCRAM-SHA-512 and OAUTHBEARER, not PLAIN, and
//! checks the SCRAM credentials `tansu user create` stores, which only its
//! PostgreSQL storage keeps (the memory storage has no users).

use crate::common::{database_url, serve_settings, with_database};
use fte::kafka::{BrokerProbe, KafkaConnection, KafkaProducer, LoggedRebalance, Topics, ensure_topics, group_consumer};
use rdkafka::consumer::Consumer;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use sqlx::{Connection, PgConnection};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{RootCertStore, ServerConfig};

const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// A CA that signs the broker's certificate (SANs `localhost` and
/// `127.0.0.1`), a certificate for another host and a client certificate,
/// and another CA that signs nothing of ours: PEM files made with the
/// openssl CLI in a scratch directory.
struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("fte-kafka-tls-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let pki = Pki { dir };
        pki.ca("ca");
        pki.ca("other-ca");
        pki.leaf("server", "serverAuth", "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
        pki.leaf("elsewhere", "serverAuth", "subjectAltName=DNS:elsewhere.example\n");
        pki.leaf("client", "clientAuth", "");
        pki
    }

    fn path(&self, file: &str) -> String {
        self.dir.join(file).display().to_string()
    }

    /// Runs the openssl CLI with `args` (split at whitespace) in the
    /// directory.
    fn openssl(&self, args: &str) {
        let args: Vec<&str> = args.split_whitespace().collect();
        let out = Command::new("openssl").args(&args).current_dir(&self.dir).output().expect("run the openssl CLI");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn ca(&self, name: &str) {
        self.openssl(&format!(
            "req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
             -keyout {name}.key -out {name}.pem -days 1 -subj /CN=fte-test-{name}"
        ));
    }

    /// A certificate `ca` signs, for `usage` (`serverAuth`, `clientAuth`),
    /// with `extra` extensions.
    fn leaf(&self, name: &str, usage: &str, extra: &str) {
        let extensions =
            format!("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage={usage}\n{extra}");
        std::fs::write(self.dir.join(format!("{name}.ext")), extensions).unwrap();
        self.openssl(&format!(
            "req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
             -keyout {name}.key -out {name}.csr -subj /CN={name}"
        ));
        self.openssl(&format!(
            "x509 -req -in {name}.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 \
             -out {name}.pem -extfile {name}.ext"
        ));
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Terminates TLS with the certificate `server` of `pki` (and, with
/// `client_auth`, requires a client certificate its CA signed), then
/// relays the bytes to the broker's plain port.
fn tls_proxy(listener: TcpListener, upstream: u16, pki: &Pki, server: &str, client_auth: bool) -> JoinHandle<()> {
    let provider = Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider());
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(pki.path(&format!("{server}.pem"))).unwrap().collect::<Result<_, _>>().unwrap();
    let key = PrivateKeyDer::from_pem_file(pki.path(&format!("{server}.key"))).unwrap();
    let builder = ServerConfig::builder_with_provider(provider.clone()).with_safe_default_protocol_versions().unwrap();
    let builder = if client_auth {
        let mut roots = RootCertStore::empty();
        for ca in CertificateDer::pem_file_iter(pki.path("ca.pem")).unwrap() {
            roots.add(ca.unwrap()).unwrap();
        }
        builder.with_client_cert_verifier(
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider).build().unwrap(),
        )
    } else {
        builder.with_no_client_auth()
    };
    let acceptor = TlsAcceptor::from(Arc::new(builder.with_single_cert(certs, key).unwrap()));
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A refused handshake closes the connection: the client
                // reports it.
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                let Ok(mut broker) = TcpStream::connect(("127.0.0.1", upstream)).await else { return };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut broker).await;
            });
        }
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A tansu broker listening in plain text on `port` and advertising
/// `advertised` (the TLS proxy's port, or its own).
struct Tansu {
    child: Child,
}

impl Tansu {
    fn start(port: u16, advertised: u16, storage: &str, authentication: bool) -> Self {
        let bin = std::env::var("FTE_TANSU_BIN").expect("FTE_TANSU_BIN is not set: run the tests with `make test`");
        let (listener, advertised) = (format!("tcp://127.0.0.1:{port}"), format!("tcp://127.0.0.1:{advertised}"));
        let mut command = Command::new(bin);
        command
            .args(["broker", "--cluster-id", "fte-tls", "--listener-url", &listener])
            .args(["--advertised-listener-url", &advertised, "--storage-engine", storage, "--silent"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if authentication {
            command.arg("--authentication");
        }
        let child = command.spawn().expect("start tansu");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "tansu did not open port {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child }
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// tansu behind the TLS proxy; the bootstrap address is the proxy's.
struct TlsBroker {
    bootstrap: String,
    _proxy: AbortOnDrop,
    _tansu: Tansu,
}

struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn tls_broker(pki: &Pki, client_auth: bool) -> TlsBroker {
    tls_broker_on(pki, "server", client_auth, "memory://tansu/", false).await
}

async fn tls_broker_on(pki: &Pki, server: &str, client_auth: bool, storage: &str, authentication: bool) -> TlsBroker {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tls_port = listener.local_addr().unwrap().port();
    let plain_port = free_port();
    let tansu = Tansu::start(plain_port, tls_port, storage, authentication);
    let proxy = tls_proxy(listener, plain_port, pki, server, client_auth);
    TlsBroker { bootstrap: format!("127.0.0.1:{tls_port}"), _proxy: AbortOnDrop(proxy), _tansu: tansu }
}

/// The connection `serve` would build from these flags.
fn connection(bootstrap: &str, flags: &[&str]) -> KafkaConnection {
    let settings = serve_settings(flags);
    KafkaConnection::from_settings(bootstrap, &settings.kafka.security).expect("valid security settings")
}

/// Whether [`round_trip`] reads the record back or only asks the broker,
/// through the same consumer, how far the partition goes: tansu's
/// PostgreSQL storage (the one with SCRAM users) takes 5 to 20 s to serve
/// the first fetch of a new partition.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Read {
    Record,
    Watermarks,
}

/// The service's clients over `kafka`: topics created by the admin client,
/// a record produced, the group consumer (assigned the record's partition:
/// no group join to wait for) reading it back or the partition's
/// watermarks, and the health probe's answer.
async fn round_trip(kafka: &KafkaConnection, read: Read) {
    let topics = Topics { prefix: format!("tls{}.", uuid::Uuid::new_v4().simple()), ..Topics::default() };
    ensure_topics(kafka, &topics, Duration::from_secs(10)).await.expect("topics created");
    let producer = KafkaProducer::new(kafka).unwrap();
    let topic = topics.metrics();
    let delivered = producer.send_bytes(&topic, "k", b"over the secured transport").await.expect("produced");
    let consumer = group_consumer(kafka, &format!("{}g", topics.prefix), 6_000, 300_000, LoggedRebalance("tls-test"))
        .expect("consumer");
    match read {
        Read::Record => {
            let mut partition = TopicPartitionList::new();
            partition.add_partition_offset(&topic, delivered.partition, Offset::Offset(delivered.offset)).unwrap();
            consumer.assign(&partition).unwrap();
            let record = tokio::time::timeout(Duration::from_secs(10), consumer.recv())
                .await
                .expect("a record within 10 s")
                .expect("consumed");
            assert_eq!(record.payload(), Some(&b"over the secured transport"[..]));
        }
        Read::Watermarks => {
            let (_, high) = tokio::task::spawn_blocking(move || {
                consumer.fetch_watermarks(&topic, delivered.partition, Duration::from_secs(10))
            })
            .await
            .unwrap()
            .expect("watermarks");
            assert!(high > delivered.offset, "high watermark {high}, record at {}", delivered.offset);
        }
    }
    let status = BrokerProbe::new(kafka).unwrap().check(PROBE_TIMEOUT).await.expect("the health probe answers");
    assert_eq!(status.brokers, 1);
}

/// The health probe's error for a connection that cannot get through.
async fn probe_error(kafka: &KafkaConnection) -> String {
    match BrokerProbe::new(kafka).unwrap().check(PROBE_TIMEOUT).await {
        Ok(status) => panic!("the probe got through: {status:?}"),
        Err(error) => error.to_string(),
    }
}

/// A fresh database with tansu's PostgreSQL schema, for a broker that
/// keeps SCRAM users.
struct TansuStorage {
    name: String,
    url: String,
}

impl TansuStorage {
    async fn create() -> Self {
        let name = format!("tansu_tls_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&database_url()).await.expect("connect to DATABASE_URL");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut admin).await.unwrap();
        admin.close().await.ok();
        let url = with_database(&database_url(), &name);
        let schema =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/tansu/postgres-schema.sql")).unwrap();
        let mut conn = PgConnection::connect(&url).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(schema)).execute(&mut conn).await.expect("tansu schema applies");
        conn.close().await.ok();
        Self { name, url }
    }
}

impl Drop for TansuStorage {
    /// Drops the database from a runtime of its own on a thread of its own
    /// (the test's runtime may be the one running this), as `TestDb` does.
    fn drop(&mut self) {
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            rt.block_on(async move {
                let mut admin = PgConnection::connect(&database_url()).await.ok()?;
                let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                sqlx::query(sqlx::AssertSqlSafe(drop)).execute(&mut admin).await.ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(_))) {
            eprintln!("warning: could not drop tansu's database {}", self.name);
        }
    }
}

/// Stores `user`'s SCRAM credentials (SHA-256 and SHA-512) with `tansu user
/// create`, through a broker started for it without `--authentication`
/// (with it, tansu takes the request only from an authenticated client).
fn create_scram_user(storage: &TansuStorage, user: &str, password: &str) {
    let port = free_port();
    let _broker = Tansu::start(port, port, &storage.url, false);
    let bin = std::env::var("FTE_TANSU_BIN").expect("FTE_TANSU_BIN is not set: run the tests with `make test`");
    for mechanism in ["scram256", "scram512"] {
        let out = Command::new(&bin)
            .args(["user", "create", "--broker", &format!("tcp://127.0.0.1:{port}"), user, password])
            .args(["--mechanism", mechanism, "--iterations", "4096"])
            .output()
            .expect("run tansu user create");
        assert!(out.status.success(), "tansu user create: {}", String::from_utf8_lossy(&out.stderr));
    }
}

/// SASL flags for `user`.
fn sasl<'a>(mechanism: &'a str, user: &'a str, password: &'a str) -> [&'a str; 6] {
    ["--kafka-sasl-mechanism", mechanism, "--kafka-sasl-username", user, "--kafka-sasl-password", password]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssl_with_the_brokers_ca_produces_consumes_and_probes() {
    let pki = Pki::new();
    let broker = tls_broker(&pki, false).await;
    let ca = pki.path("ca.pem");
    let ssl = ["--kafka-security-protocol", "SSL", "--kafka-ssl-ca-file", &ca];
    round_trip(&connection(&broker.bootstrap, &ssl), Read::Record).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssl_with_another_ca_or_in_plain_text_fails_clearly() {
    let pki = Pki::new();
    let broker = tls_broker(&pki, false).await;
    let other = pki.path("other-ca.pem");
    let wrong_ca = ["--kafka-security-protocol", "SSL", "--kafka-ssl-ca-file", &other];
    let error = probe_error(&connection(&broker.bootstrap, &wrong_ca)).await;
    assert!(error.starts_with("broker metadata request failed over SSL: "), "{error}");
    assert!(error.contains("certificate verify failed"), "{error}");
    let error = probe_error(&connection(&broker.bootstrap, &[])).await;
    assert!(error.starts_with("broker metadata request failed over PLAINTEXT: "), "{error}");
    assert!(error.contains("Disconnected"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssl_refuses_a_certificate_for_another_host() {
    let pki = Pki::new();
    let broker = tls_broker_on(&pki, "elsewhere", false, "memory://tansu/", false).await;
    let ca = pki.path("ca.pem");
    let error =
        probe_error(&connection(&broker.bootstrap, &["--kafka-security-protocol", "SSL", "--kafka-ssl-ca-file", &ca]))
            .await;
    assert!(error.starts_with("broker metadata request failed over SSL: "), "{error}");
    assert!(error.contains("certificate verify failed"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_presents_the_client_certificate() {
    let pki = Pki::new();
    let broker = tls_broker(&pki, true).await;
    let (ca, cert, key) = (pki.path("ca.pem"), pki.path("client.pem"), pki.path("client.key"));
    let ssl = ["--kafka-security-protocol", "SSL", "--kafka-ssl-ca-file", &ca];
    let mutual = [&ssl[..], &["--kafka-ssl-cert-file", &cert, "--kafka-ssl-key-file", &key]].concat();
    round_trip(&connection(&broker.bootstrap, &mutual), Read::Record).await;
    let error = probe_error(&connection(&broker.bootstrap, &ssl)).await;
    assert!(error.starts_with("broker metadata request failed over SSL: "), "{error}");
    assert!(error.contains("certificate required"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sasl_scram_over_ssl_and_in_plain_text() {
    let pki = Pki::new();
    let storage = TansuStorage::create().await;
    create_scram_user(&storage, "fte", "s3cret");
    let ca = pki.path("ca.pem");
    {
        let broker = tls_broker_on(&pki, "server", false, &storage.url, true).await;
        let ssl = ["--kafka-security-protocol", "SSL", "--kafka-ssl-ca-file", &ca];
        let sasl_ssl = ["--kafka-security-protocol", "SASL_SSL", "--kafka-ssl-ca-file", &ca];
        let flags = [&sasl_ssl[..], &sasl("SCRAM-SHA-512", "fte", "s3cret")].concat();
        round_trip(&connection(&broker.bootstrap, &flags), Read::Watermarks).await;
        let flags = [&sasl_ssl[..], &sasl("SCRAM-SHA-256", "fte", "s3cret")].concat();
        BrokerProbe::new(&connection(&broker.bootstrap, &flags)).unwrap().check(PROBE_TIMEOUT).await.unwrap();

        let flags = [&sasl_ssl[..], &sasl("SCRAM-SHA-512", "fte", "wrong")].concat();
        let error = probe_error(&connection(&broker.bootstrap, &flags)).await;
        assert!(error.starts_with("broker metadata request failed over SASL_SSL: "), "{error}");
        assert!(error.contains("SASL authentication error") && error.contains("invalid-proof"), "{error}");
        // tansu closes the connection of a client that does not authenticate.
        let error = probe_error(&connection(&broker.bootstrap, &ssl)).await;
        assert!(
            error.starts_with("broker metadata request failed over SSL: ") && error.contains("Disconnected"),
            "{error}"
        );
    }
    {
        let port = free_port();
        let _broker = Tansu::start(port, port, &storage.url, true);
        let flags =
            [&["--kafka-security-protocol", "SASL_PLAINTEXT"][..], &sasl("SCRAM-SHA-512", "fte", "s3cret")].concat();
        let kafka = connection(&format!("127.0.0.1:{port}"), &flags);
        BrokerProbe::new(&kafka).unwrap().check(PROBE_TIMEOUT).await.expect("SASL_PLAINTEXT with SCRAM");
    }
}

#[tokio::test]
async fn tansu_takes_no_certificate_and_key() {
    let pki = Pki::new();
    let bin = std::env::var("FTE_TANSU_BIN").expect("FTE_TANSU_BIN is not set: run the tests with `make test`");
    let out = Command::new(bin)
        .args(["broker", "--listener-url", &format!("tcp://127.0.0.1:{}", free_port()), "--silent"])
        .args(["--cert", &pki.path("server.pem"), "--key", &pki.path("server.key")])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("'--cert <CERT>' cannot be used with '--key <KEY>'"), "{stderr}");
}

#[tokio::test]
async fn a_sasl_protocol_without_credentials_stops_start_up() {
    let settings = serve_settings(&["--kafka-brokers", "127.0.0.1:9", "--kafka-security-protocol", "SASL_SSL"]);
    let error = fte::app::App::build(&settings).await.err().expect("start-up fails");
    assert_eq!(
        error.to_string(),
        "invalid Kafka security settings: KAFKA_SECURITY_PROTOCOL=SASL_SSL needs KAFKA_SASL_MECHANISM"
    );
}
