//! A small W3C WebDriver client over HTTP (reqwest), enough to drive
//! Debian's ChromeDriver + headless Chromium in the browser tests: start a
//! session, navigate, find elements (also inside shadow roots), type,
//! click, read text and attributes.

use serde_json::{Value, json};
use std::time::Duration;

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
const SHADOW: &str = "shadow-6066-11e4-a52e-4f735466cecf";

pub struct Browser {
    driver: std::process::Child,
    base: String,
    http: reqwest::Client,
    profile: std::path::PathBuf,
}

impl Drop for Browser {
    /// Also when a test fails half-way: no driver, browser or profile left.
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// Where elements are searched: the document or a shadow root.
#[derive(Clone, Debug)]
pub enum Scope {
    Document,
    Shadow(String),
}

impl Browser {
    /// Starts ChromeDriver on a free port and a headless Chromium session.
    /// A browser that does not come up (a cold machine can take longer than
    /// ChromeDriver's start-up wait) is tried again with a fresh driver and
    /// profile; the last failure panics with the driver's log.
    pub async fn start() -> Self {
        let mut failures = Vec::new();
        for attempt in 1..=3 {
            match Self::try_start().await {
                Ok(browser) => return browser,
                Err(failure) => {
                    eprintln!("browser start attempt {attempt} failed: {failure}");
                    failures.push(failure);
                }
            }
        }
        panic!("no browser session after 3 attempts:\n{}", failures.join("\n---\n"));
    }

    async fn try_start() -> Result<Self, String> {
        let chromedriver = std::env::var("FTE_CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
        let chromium = std::env::var("FTE_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        assert!(
            std::path::Path::new(&chromedriver).exists(),
            "{chromedriver} is missing: run the tests with `make test` (it installs chromium and chromium-driver)"
        );
        let profile = std::env::temp_dir().join(format!("fte-chromium-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&profile).map_err(|e| format!("profile dir: {e}"))?;
        let log = profile.join("chromedriver.log");
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = std::process::Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| format!("start chromedriver: {e}"))?;
        // From here on, dropping `browser` cleans up the driver and profile.
        let mut browser =
            Self { driver, base: format!("http://127.0.0.1:{port}"), http: reqwest::Client::new(), profile };
        for _ in 0..100 {
            if let Ok(r) = browser.http.get(format!("{}/status", browser.base)).send().await
                && r.json::<Value>().await.is_ok_and(|v| v["value"]["ready"] == true)
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let args = [
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-breakpad".into(),
            // Talk to the browser over a pipe, not a port announced in a
            // DevToolsActivePort file (which a slow start can miss).
            "--remote-debugging-pipe".into(),
            format!("--user-data-dir={}", browser.profile.join("chromium").display()),
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args}
        }}});
        let session: Result<Value, String> = async {
            let response = browser
                .http
                .post(format!("{}/session", browser.base))
                .json(&caps)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            response.json().await.map_err(|e| e.to_string())
        }
        .await;
        match session.as_ref().ok().and_then(|s| s["value"]["sessionId"].as_str()) {
            Some(id) => {
                browser.base = format!("{}/session/{id}", browser.base);
                Ok(browser)
            }
            None => {
                let log = std::fs::read_to_string(&log).unwrap_or_default();
                let tail: String =
                    log.lines().rev().take(30).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
                Err(format!("no session: {session:?}\nchromedriver log (last lines):\n{tail}"))
            }
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let v: Value = req.send().await.unwrap().json().await.unwrap();
        v["value"].clone()
    }

    pub async fn goto(&self, url: &str) {
        let v = self.call(reqwest::Method::POST, "/url", Some(json!({ "url": url }))).await;
        assert!(v.is_null(), "navigation failed: {v}");
    }

    /// Finds the first element matching `css` in `scope`, waiting up to
    /// `within` for it to appear.
    pub async fn find(&self, scope: &Scope, css: &str, within: Duration) -> String {
        let path = match scope {
            Scope::Document => "/element".to_string(),
            Scope::Shadow(id) => format!("/shadow/{id}/element"),
        };
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let v = self.call(reqwest::Method::POST, &path, Some(json!({"using": "css selector", "value": css}))).await;
            if let Some(id) = v[ELEMENT].as_str() {
                return id.to_string();
            }
            assert!(tokio::time::Instant::now() < deadline, "no element {css} in {scope:?}: {v}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The shadow root of an element.
    pub async fn shadow(&self, element: &str) -> Scope {
        let v = self.call(reqwest::Method::GET, &format!("/element/{element}/shadow"), None).await;
        Scope::Shadow(v[SHADOW].as_str().unwrap_or_else(|| panic!("no shadow root: {v}")).to_string())
    }

    pub async fn type_into(&self, element: &str, text: &str) {
        let v =
            self.call(reqwest::Method::POST, &format!("/element/{element}/value"), Some(json!({ "text": text }))).await;
        assert!(v.is_null(), "typing failed: {v}");
    }

    pub async fn click(&self, element: &str) {
        let v = self.call(reqwest::Method::POST, &format!("/element/{element}/click"), Some(json!({}))).await;
        assert!(v.is_null(), "click failed: {v}");
    }

    pub async fn text(&self, element: &str) -> String {
        self.call(reqwest::Method::GET, &format!("/element/{element}/text"), None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The element's text once it is not empty (a view filled in by its
    /// first poll), waiting up to `within`.
    pub async fn text_shown(&self, element: &str, within: Duration) -> String {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let text = self.text(element).await;
            if !text.trim().is_empty() || tokio::time::Instant::now() >= deadline {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub async fn attribute(&self, element: &str, name: &str) -> Option<String> {
        self.call(reqwest::Method::GET, &format!("/element/{element}/attribute/{name}"), None)
            .await
            .as_str()
            .map(str::to_string)
    }

    /// Ends the session (the browser exits), then the driver (on drop).
    pub async fn quit(self) {
        let _ = self.http.delete(&self.base).send().await;
    }
}
