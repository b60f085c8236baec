//! `uec-idp serve` as the operator runs it, stopped as systemd stops it (issue #11): on
//! SIGTERM it stops accepting, finishes the requests it already accepted, stops its
//! background work, closes its database pools and exits 0. On PostgreSQL the connections
//! use TLS (`sslmode=require`), the case that used to crash at exit.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::helpers::{TestDb, binary, copy_keys, hidden_field, location, postgres_base_url};

/// Sign-ins in flight when the signal arrives: each waits for argon2 on one hashing
/// thread, so the last of them finishes well after the signal.
const IN_FLIGHT: usize = 24;
const CYCLES: usize = 3;

#[tokio::test]
async fn serve_finishes_accepted_sign_ins_and_exits_zero_on_sigterm() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = TestDb::new(dir.path());
    let database_url = if postgres_base_url().is_some() {
        format!("{}&sslmode=require", db.url)
    } else {
        db.url.clone()
    };
    copy_keys(&dir.path().join("keys"));
    let mut password = None;
    for cycle in 0..CYCLES {
        let port = free_port();
        let config = write_config(dir.path(), &database_url, port);
        let password = password.get_or_insert_with(|| create_account(&config));
        let mut server = Server::start(&config, dir.path());
        let base = format!("http://127.0.0.1:{port}");
        server.wait_until_healthy(&base).await;

        // Browsers with a login form each, then every password posted at once.
        let mut forms = Vec::new();
        for _ in 0..IN_FLIGHT {
            forms.push(login_form(&base).await);
        }
        let posts: Vec<_> = forms
            .into_iter()
            .map(|(browser, form)| {
                let (url, password) = (format!("{base}/login"), password.clone());
                tokio::spawn(async move {
                    let mut form = form;
                    form.push(("username".into(), "a1830000".into()));
                    form.push(("password".into(), password));
                    browser.post(url).form(&form).send().await
                })
            })
            .collect();
        // Let the requests reach the server (loopback: well under this) before the signal.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let signalled = Instant::now();
        server.sigterm();

        for (i, post) in posts.into_iter().enumerate() {
            let response = post
                .await
                .expect("task")
                .unwrap_or_else(|e| panic!("cycle {cycle}: sign-in {i} lost at shutdown: {e}"));
            assert_eq!(
                response.status(),
                StatusCode::SEE_OTHER,
                "cycle {cycle}: sign-in {i} accepted before SIGTERM is completed"
            );
        }
        let status = server.wait(Duration::from_secs(20));
        assert!(
            status.success(),
            "cycle {cycle}: serve exited with {status} after SIGTERM; stderr:\n{}",
            server.stderr()
        );
        assert!(
            reqwest::get(format!("{base}/healthz")).await.is_err(),
            "cycle {cycle}: nothing listens after exit"
        );
        let log = server.stderr();
        assert!(
            log.contains("uec-idp stopped"),
            "cycle {cycle}: the last log line is written ({:?} after the signal):\n{log}",
            signalled.elapsed()
        );
        assert!(
            !log.contains(password.as_str()),
            "the log never holds a password"
        );
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// The provider's configuration. Its throttle lets the in-flight sign-ins of one account
/// through: every attempt is counted before it is judged (`services::throttle`), and 24
/// at once from browsers the account does not know would otherwise exceed its allowance.
fn write_config(dir: &Path, database_url: &str, port: u16) -> std::path::PathBuf {
    let path = dir.join("serve.toml");
    std::fs::write(
        &path,
        format!(
            "issuer = \"http://127.0.0.1:{port}\"\nlisten = \"127.0.0.1:{port}\"\n\
             database_url = {database_url:?}\nkeys_dir = {:?}\nworkers = 2\n\
             [passwords]\nhashing_threads = 1\n[mail]\ndir = {:?}\n\
             [network]\ncampus = [\"127.0.0.0/8\"]\n\
             [throttle]\naccount_free_failures = 1000\n",
            dir.join("keys").display().to_string(),
            dir.join("mail").display().to_string(),
        ),
    )
    .expect("config");
    path
}

/// Issues the account through the CLI and returns its initial password.
fn create_account(config: &Path) -> String {
    let out = Command::new(binary())
        .args(["--config"])
        .arg(config)
        .args([
            "--json",
            "account",
            "create",
            "--id",
            "a1830000",
            "--name",
            "Chofu Taro",
            "--affiliation",
            "student",
        ])
        .env("RUST_LOG", "warn")
        .output()
        .expect("run uec-idp");
    assert!(
        out.status.success(),
        "account create: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let created: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    created["initial_password"]
        .as_str()
        .expect("initial password")
        .to_string()
}

async fn login_form(base: &str) -> (reqwest::Client, Vec<(String, String)>) {
    let browser = reqwest::Client::builder()
        .cookie_provider(std::sync::Arc::new(reqwest::cookie::Jar::default()))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("browser");
    let start = browser
        .get(format!("{base}/login"))
        .send()
        .await
        .expect("login start");
    assert_eq!(start.status(), StatusCode::SEE_OTHER, "a flow is opened");
    let page = browser
        .get(format!("{base}{}", location(&start)))
        .send()
        .await
        .expect("login page");
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("html");
    let form = vec![
        ("flow".to_string(), hidden_field(&html, "flow")),
        ("csrf".to_string(), hidden_field(&html, "csrf")),
    ];
    (browser, form)
}

/// The server process; killed if a test fails before it exits.
struct Server {
    child: Child,
    stderr_path: std::path::PathBuf,
}

impl Server {
    fn start(config: &Path, dir: &Path) -> Server {
        let stderr_path = dir.join("serve.log");
        let log = std::fs::File::create(&stderr_path).expect("log file");
        let child = Command::new(binary())
            .arg("--config")
            .arg(config)
            .arg("serve")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start serve");
        Server { child, stderr_path }
    }

    async fn wait_until_healthy(&mut self, base: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(r) = reqwest::get(format!("{base}/healthz")).await
                && r.status() == StatusCode::OK
            {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("serve exited early with {status}:\n{}", self.stderr());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("serve never became healthy:\n{}", self.stderr());
    }

    fn sigterm(&self) {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill")
            .success();
        assert!(ok, "SIGTERM sent");
    }

    fn wait(&mut self, bound: Duration) -> ExitStatus {
        let deadline = Instant::now() + bound;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "serve still running {bound:?} after SIGTERM:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
