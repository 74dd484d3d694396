//! How this process reaches the Kafka cluster: the bootstrap servers and
//! the transport security (`PLAINTEXT`, `SSL` with optional mutual TLS,
//! `SASL_PLAINTEXT`, `SASL_SSL`), checked once at start-up from the
//! settings. [`KafkaConnection::client_config`] is the only place in the
//! crate that starts an rdkafka `ClientConfig`, so every client (producers,
//! consumers, the admin client, the health probe, the bench harness)
//! carries the same security settings; a unit test below keeps it so.

use crate::config::{KafkaSaslMechanism, KafkaSecurityProtocol, KafkaSecuritySettings};
use crate::secret::Secret;
use rdkafka::ClientConfig;
use std::path::{Path, PathBuf};

/// Bootstrap servers and security: what every Kafka client is built from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KafkaConnection {
    bootstrap: String,
    security: KafkaSecurity,
}

/// The transport security of a connection. Only valid combinations exist:
/// SASL credentials come with a `SASL_*` protocol, TLS files with a `*SSL`
/// one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KafkaSecurity {
    Plaintext,
    Ssl(Tls),
    SaslPlaintext(Sasl),
    SaslSsl { sasl: Sasl, tls: Tls },
}

/// SASL credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sasl {
    pub mechanism: KafkaSaslMechanism,
    pub username: String,
    pub password: Secret<String>,
}

/// TLS files (PEM).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tls {
    /// CA certificates that sign the brokers' certificates; `None`: the
    /// system's trust store.
    pub ca_file: Option<PathBuf>,
    /// Certificate and key this client presents (mutual TLS).
    pub client: Option<ClientCertificate>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientCertificate {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

/// A combination of security settings that cannot work.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum KafkaSecurityError {
    #[error("KAFKA_SECURITY_PROTOCOL={protocol} needs {setting}")]
    Missing { protocol: &'static str, setting: &'static str },
    #[error("{setting} is set, but KAFKA_SECURITY_PROTOCOL={protocol} does not use it")]
    Unused { setting: &'static str, protocol: &'static str },
    #[error("KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE go together (mutual TLS), but only {0} is set")]
    HalfClientCertificate(&'static str),
    #[error("{setting}: cannot read {path}: {reason}")]
    File { setting: &'static str, path: PathBuf, reason: String },
}

impl KafkaConnection {
    pub fn new(bootstrap: impl Into<String>, security: KafkaSecurity) -> Self {
        Self { bootstrap: bootstrap.into(), security }
    }

    /// Plain TCP without authentication (the local broker).
    pub fn plaintext(bootstrap: impl Into<String>) -> Self {
        Self::new(bootstrap, KafkaSecurity::Plaintext)
    }

    /// The connection the settings describe, or why they cannot work
    /// (missing or unused settings, unreadable files).
    pub fn from_settings(bootstrap: &str, settings: &KafkaSecuritySettings) -> Result<Self, KafkaSecurityError> {
        Ok(Self::new(bootstrap.trim(), KafkaSecurity::from_settings(settings)?))
    }

    pub fn bootstrap(&self) -> &str {
        &self.bootstrap
    }

    pub fn security(&self) -> &KafkaSecurity {
        &self.security
    }

    /// A client configuration with the bootstrap servers and the security
    /// settings set; callers add their client's own settings.
    pub fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.bootstrap);
        self.security.apply(&mut config);
        config
    }

    /// The environment variables that give a child process of this binary
    /// the same security settings (`KAFKA_BROKERS` aside).
    pub fn security_env(&self) -> Vec<(&'static str, String)> {
        let (sasl, tls) = self.security.parts();
        let mut env = vec![("KAFKA_SECURITY_PROTOCOL", self.security.protocol_name().to_string())];
        if let Some(sasl) = sasl {
            env.push(("KAFKA_SASL_MECHANISM", mechanism_name(sasl.mechanism).to_string()));
            env.push(("KAFKA_SASL_USERNAME", sasl.username.clone()));
            env.push(("KAFKA_SASL_PASSWORD", sasl.password.expose().clone()));
        }
        if let Some(tls) = tls {
            if let Some(ca) = &tls.ca_file {
                env.push(("KAFKA_SSL_CA_FILE", path_value(ca)));
            }
            if let Some(client) = &tls.client {
                env.push(("KAFKA_SSL_CERT_FILE", path_value(&client.cert_file)));
                env.push(("KAFKA_SSL_KEY_FILE", path_value(&client.key_file)));
            }
        }
        env
    }
}

impl KafkaSecurity {
    pub fn from_settings(s: &KafkaSecuritySettings) -> Result<Self, KafkaSecurityError> {
        let protocol = protocol_name(s.kafka_security_protocol);
        let (uses_sasl, uses_tls) = match s.kafka_security_protocol {
            KafkaSecurityProtocol::Plaintext => (false, false),
            KafkaSecurityProtocol::Ssl => (false, true),
            KafkaSecurityProtocol::SaslPlaintext => (true, false),
            KafkaSecurityProtocol::SaslSsl => (true, true),
        };
        let username = s.kafka_sasl_username.as_deref().map(str::trim).filter(|u| !u.is_empty());
        let password = s.kafka_sasl_password.as_ref().filter(|p| !p.expose().is_empty());
        let sasl = if uses_sasl {
            let missing = |setting| KafkaSecurityError::Missing { protocol, setting };
            Some(Sasl {
                mechanism: s.kafka_sasl_mechanism.ok_or_else(|| missing("KAFKA_SASL_MECHANISM"))?,
                username: username.ok_or_else(|| missing("KAFKA_SASL_USERNAME"))?.to_string(),
                password: password.ok_or_else(|| missing("KAFKA_SASL_PASSWORD"))?.clone(),
            })
        } else {
            let unused = [
                ("KAFKA_SASL_MECHANISM", s.kafka_sasl_mechanism.is_some()),
                ("KAFKA_SASL_USERNAME", username.is_some()),
                ("KAFKA_SASL_PASSWORD", password.is_some()),
            ];
            if let Some(&(setting, _)) = unused.iter().find(|(_, set)| *set) {
                return Err(KafkaSecurityError::Unused { setting, protocol });
            }
            None
        };
        let files = [
            ("KAFKA_SSL_CA_FILE", &s.kafka_ssl_ca_file),
            ("KAFKA_SSL_CERT_FILE", &s.kafka_ssl_cert_file),
            ("KAFKA_SSL_KEY_FILE", &s.kafka_ssl_key_file),
        ];
        let tls = if uses_tls {
            for (setting, path) in files {
                if let Some(path) = path {
                    readable(setting, path)?;
                }
            }
            let client = match (&s.kafka_ssl_cert_file, &s.kafka_ssl_key_file) {
                (Some(cert), Some(key)) => Some(ClientCertificate { cert_file: cert.clone(), key_file: key.clone() }),
                (None, None) => None,
                (Some(_), None) => return Err(KafkaSecurityError::HalfClientCertificate("KAFKA_SSL_CERT_FILE")),
                (None, Some(_)) => return Err(KafkaSecurityError::HalfClientCertificate("KAFKA_SSL_KEY_FILE")),
            };
            Some(Tls { ca_file: s.kafka_ssl_ca_file.clone(), client })
        } else {
            if let Some(&(setting, _)) = files.iter().find(|(_, path)| path.is_some()) {
                return Err(KafkaSecurityError::Unused { setting, protocol });
            }
            None
        };
        Ok(match (sasl, tls) {
            (None, None) => KafkaSecurity::Plaintext,
            (None, Some(tls)) => KafkaSecurity::Ssl(tls),
            (Some(sasl), None) => KafkaSecurity::SaslPlaintext(sasl),
            (Some(sasl), Some(tls)) => KafkaSecurity::SaslSsl { sasl, tls },
        })
    }

    /// The protocol as `KAFKA_SECURITY_PROTOCOL` spells it.
    pub fn protocol_name(&self) -> &'static str {
        protocol_name(match self {
            KafkaSecurity::Plaintext => KafkaSecurityProtocol::Plaintext,
            KafkaSecurity::Ssl(_) => KafkaSecurityProtocol::Ssl,
            KafkaSecurity::SaslPlaintext(_) => KafkaSecurityProtocol::SaslPlaintext,
            KafkaSecurity::SaslSsl { .. } => KafkaSecurityProtocol::SaslSsl,
        })
    }

    fn parts(&self) -> (Option<&Sasl>, Option<&Tls>) {
        match self {
            KafkaSecurity::Plaintext => (None, None),
            KafkaSecurity::Ssl(tls) => (None, Some(tls)),
            KafkaSecurity::SaslPlaintext(sasl) => (Some(sasl), None),
            KafkaSecurity::SaslSsl { sasl, tls } => (Some(sasl), Some(tls)),
        }
    }

    /// Sets librdkafka's `security.protocol`, `sasl.*` and `ssl.*`.
    /// Brokers' host names are checked against their certificates
    /// (librdkafka's default `ssl.endpoint.identification.algorithm=https`).
    fn apply(&self, config: &mut ClientConfig) {
        config.set("security.protocol", self.protocol_name());
        let (sasl, tls) = self.parts();
        if let Some(sasl) = sasl {
            config
                .set("sasl.mechanism", mechanism_name(sasl.mechanism))
                .set("sasl.username", &sasl.username)
                .set("sasl.password", sasl.password.expose());
        }
        if let Some(tls) = tls {
            if let Some(ca) = &tls.ca_file {
                config.set("ssl.ca.location", path_value(ca));
            }
            if let Some(client) = &tls.client {
                config
                    .set("ssl.certificate.location", path_value(&client.cert_file))
                    .set("ssl.key.location", path_value(&client.key_file));
            }
        }
    }
}

fn protocol_name(protocol: KafkaSecurityProtocol) -> &'static str {
    match protocol {
        KafkaSecurityProtocol::Plaintext => "PLAINTEXT",
        KafkaSecurityProtocol::Ssl => "SSL",
        KafkaSecurityProtocol::SaslPlaintext => "SASL_PLAINTEXT",
        KafkaSecurityProtocol::SaslSsl => "SASL_SSL",
    }
}

fn mechanism_name(mechanism: KafkaSaslMechanism) -> &'static str {
    match mechanism {
        KafkaSaslMechanism::Plain => "PLAIN",
        KafkaSaslMechanism::ScramSha256 => "SCRAM-SHA-256",
        KafkaSaslMechanism::ScramSha512 => "SCRAM-SHA-512",
    }
}

fn path_value(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// Fails now, with the setting's name, for a file librdkafka could not read
/// either.
fn readable(setting: &'static str, path: &Path) -> Result<(), KafkaSecurityError> {
    std::fs::File::open(path).map(drop).map_err(|e| KafkaSecurityError::File {
        setting,
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        security: KafkaSecuritySettings,
    }

    fn parse(flags: &[&str]) -> Result<KafkaSecurity, KafkaSecurityError> {
        let settings =
            Flags::try_parse_from(std::iter::once("fte").chain(flags.iter().copied())).expect("flags parse").security;
        KafkaSecurity::from_settings(&settings)
    }

    fn config_of(security: KafkaSecurity) -> ClientConfig {
        KafkaConnection::new("b:9093", security).client_config()
    }

    /// A file that exists (this source file).
    const FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/kafka/connection.rs");

    #[test]
    fn plaintext_by_default() {
        assert_eq!(parse(&[]).unwrap(), KafkaSecurity::Plaintext);
        let config = config_of(KafkaSecurity::Plaintext);
        assert_eq!(config.get("bootstrap.servers"), Some("b:9093"));
        assert_eq!(config.get("security.protocol"), Some("PLAINTEXT"));
        assert_eq!(config.get("sasl.username"), None);
    }

    #[test]
    fn sasl_ssl_with_mutual_tls() {
        let security = parse(&[
            "--kafka-security-protocol",
            "sasl_ssl",
            "--kafka-sasl-mechanism",
            "SCRAM-SHA-512",
            "--kafka-sasl-username",
            "fte",
            "--kafka-sasl-password",
            "hunter2",
            "--kafka-ssl-ca-file",
            FILE,
            "--kafka-ssl-cert-file",
            FILE,
            "--kafka-ssl-key-file",
            FILE,
        ])
        .unwrap();
        let debug = format!("{security:?}");
        assert!(!debug.contains("hunter2"), "the password printed: {debug}");
        let config = config_of(security.clone());
        for (key, value) in [
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanism", "SCRAM-SHA-512"),
            ("sasl.username", "fte"),
            ("sasl.password", "hunter2"),
            ("ssl.ca.location", FILE),
            ("ssl.certificate.location", FILE),
            ("ssl.key.location", FILE),
        ] {
            assert_eq!(config.get(key), Some(value), "{key}");
        }
        assert!(!format!("{config:?}").contains("hunter2"));
        // A child process given these variables has the same settings.
        let env = KafkaConnection::new("b:9093", security.clone()).security_env();
        let flags: Vec<String> =
            env.iter().flat_map(|(k, v)| [format!("--{}", k.to_lowercase().replace('_', "-")), v.clone()]).collect();
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        assert_eq!(parse(&flags).unwrap(), security);
    }

    #[test]
    fn ssl_without_files_uses_the_system_trust_store() {
        let security = parse(&["--kafka-security-protocol", "SSL"]).unwrap();
        assert_eq!(security, KafkaSecurity::Ssl(Tls::default()));
        let config = config_of(security);
        assert_eq!(config.get("security.protocol"), Some("SSL"));
        assert_eq!(config.get("ssl.ca.location"), None);
    }

    #[test]
    fn bad_combinations_are_refused_with_the_setting_named() {
        let sasl = ["--kafka-security-protocol", "SASL_PLAINTEXT"];
        assert_eq!(
            parse(&sasl).unwrap_err(),
            KafkaSecurityError::Missing { protocol: "SASL_PLAINTEXT", setting: "KAFKA_SASL_MECHANISM" }
        );
        assert_eq!(
            parse(&[&sasl[..], &["--kafka-sasl-mechanism", "PLAIN", "--kafka-sasl-password", "p"]].concat())
                .unwrap_err()
                .to_string(),
            "KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT needs KAFKA_SASL_USERNAME"
        );
        assert_eq!(
            parse(&["--kafka-sasl-username", "u"]).unwrap_err().to_string(),
            "KAFKA_SASL_USERNAME is set, but KAFKA_SECURITY_PROTOCOL=PLAINTEXT does not use it"
        );
        let complete = [&sasl[..], &["--kafka-sasl-mechanism", "PLAIN", "--kafka-sasl-username", "u"]].concat();
        assert_eq!(
            parse(&complete).unwrap_err(),
            KafkaSecurityError::Missing { protocol: "SASL_PLAINTEXT", setting: "KAFKA_SASL_PASSWORD" }
        );
        assert_eq!(
            parse(&[&complete[..], &["--kafka-sasl-password", "p", "--kafka-ssl-ca-file", FILE]].concat()).unwrap_err(),
            KafkaSecurityError::Unused { setting: "KAFKA_SSL_CA_FILE", protocol: "SASL_PLAINTEXT" }
        );
        assert_eq!(
            parse(&["--kafka-ssl-ca-file", FILE]).unwrap_err(),
            KafkaSecurityError::Unused { setting: "KAFKA_SSL_CA_FILE", protocol: "PLAINTEXT" }
        );
        assert_eq!(
            parse(&["--kafka-security-protocol", "SSL", "--kafka-ssl-cert-file", FILE]).unwrap_err(),
            KafkaSecurityError::HalfClientCertificate("KAFKA_SSL_CERT_FILE")
        );
        match parse(&["--kafka-security-protocol", "SSL", "--kafka-ssl-ca-file", "/nonexistent/ca.pem"]) {
            Err(KafkaSecurityError::File { setting: "KAFKA_SSL_CA_FILE", .. }) => {}
            other => panic!("expected an unreadable CA file, got {other:?}"),
        }
        assert!(
            Flags::try_parse_from(["fte", "--kafka-security-protocol", "TLS"]).is_err(),
            "an unknown protocol is a flag error"
        );
    }

    /// No client configuration is started anywhere but here, so none
    /// misses the security settings.
    #[test]
    fn only_this_module_starts_client_configurations() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut offenders = Vec::new();
        let mut dirs = vec![src.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("kafka/connection.rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    if text.contains("ClientConfig::new") || text.contains("ClientConfig::default") {
                        offenders.push(path.strip_prefix(&src).unwrap().display().to_string());
                    }
                }
            }
        }
        assert!(offenders.is_empty(), "start Kafka clients from KafkaConnection::client_config: {offenders:?}");
    }
}
