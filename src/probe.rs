//! `fte probe`: one HTTP GET against a running `fte` process on this host,
//! exit status 0 for a 2xx answer and 1 otherwise. It exists for the
//! container image's `HEALTHCHECK`: the runtime image is minimal (no curl),
//! and the process's own binary already carries an HTTP client. Kubernetes
//! does not need it (its probes are the kubelet's own `httpGet`).
//!
//! The address defaults to the service's own `HTTP_ADDR`, so the probe
//! follows the port the process was given; an unspecified listen address
//! (`0.0.0.0`, `::`) is probed on loopback.

use clap::Args;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

#[derive(Clone, Debug, Args)]
pub struct ProbeArgs {
    /// Address of the process to probe: the address it listens on (its
    /// `HTTP_ADDR`); `0.0.0.0` and `::` are probed on loopback.
    #[arg(long, env = "HTTP_ADDR", default_value = "127.0.0.1:8080")]
    pub http_addr: SocketAddr,

    /// Path to request: `/ready` (taking traffic), `/live` (the process
    /// answers) or `/health` (dependencies).
    #[arg(long, default_value = "/ready")]
    pub path: String,

    /// Milliseconds to wait for the answer.
    #[arg(long, default_value_t = 3000)]
    pub timeout_ms: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("--path must start with '/', got {0:?}")]
    Path(String),
    #[error("GET {url}: {source}")]
    Request { url: String, source: reqwest::Error },
    #[error("GET {url}: HTTP {status}")]
    Status { url: String, status: u16 },
}

impl ProbeArgs {
    /// The URL probed: `HTTP_ADDR` with an unspecified IP replaced by
    /// loopback, plus the path.
    pub fn url(&self) -> Result<String, ProbeError> {
        if !self.path.starts_with('/') {
            return Err(ProbeError::Path(self.path.clone()));
        }
        let ip = match self.http_addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        Ok(format!("http://{}{}", SocketAddr::new(ip, self.http_addr.port()), self.path))
    }
}

/// Probes once; `Ok` with the status code for a 2xx answer.
pub async fn run(args: &ProbeArgs) -> Result<u16, ProbeError> {
    let url = args.url()?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(args.timeout_ms.max(1)))
        .user_agent(concat!("fte-probe/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|source| ProbeError::Request { url: url.clone(), source })?;
    let response = client.get(&url).send().await.map_err(|source| ProbeError::Request { url: url.clone(), source })?;
    let status = response.status();
    if status.is_success() { Ok(status.as_u16()) } else { Err(ProbeError::Status { url, status: status.as_u16() }) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::http::StatusCode;
    use axum::routing::get;

    fn args(addr: SocketAddr, path: &str) -> ProbeArgs {
        ProbeArgs { http_addr: addr, path: path.into(), timeout_ms: 2000 }
    }

    #[test]
    fn unspecified_addresses_are_probed_on_loopback() {
        assert_eq!(args("0.0.0.0:8080".parse().unwrap(), "/ready").url().unwrap(), "http://127.0.0.1:8080/ready");
        assert_eq!(args("[::]:9000".parse().unwrap(), "/live").url().unwrap(), "http://[::1]:9000/live");
        assert_eq!(args("10.1.2.3:80".parse().unwrap(), "/health").url().unwrap(), "http://10.1.2.3:80/health");
        assert!(matches!(args("127.0.0.1:1".parse().unwrap(), "ready").url(), Err(ProbeError::Path(_))));
    }

    #[tokio::test]
    async fn success_only_for_a_2xx_answer() {
        let app = Router::new()
            .route("/ready", get(|| async { "ok" }))
            .route("/draining", get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "no") }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let listening_on_all = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), addr.port());

        assert_eq!(run(&args(listening_on_all, "/ready")).await.unwrap(), 200);
        match run(&args(addr, "/draining")).await {
            Err(ProbeError::Status { status, .. }) => assert_eq!(status, 503),
            other => panic!("expected HTTP 503, got {other:?}"),
        }
        match run(&args(addr, "/missing")).await {
            Err(ProbeError::Status { status, .. }) => assert_eq!(status, 404),
            other => panic!("expected HTTP 404, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn nothing_listening_is_a_failure() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        assert!(matches!(run(&args(addr, "/ready")).await, Err(ProbeError::Request { .. })));
    }
}
