//! Throughput of uec-idp's main flows as ratios against the raw cost that bounds each one,
//! raw numbers beside them (shared/PERFORMANCE.md, "Habits"). `cargo bench --bench flows`.
//!
//! The real `Application` runs in-process on 127.0.0.1:0 with default settings (OWASP
//! argon2id, an HTTP worker and a hashing thread per core, fresh keys) on a SQLite file, or
//! a fresh PostgreSQL schema if `UEC_IDP_BENCH_DATABASE_URL` is set. The load generator
//! (reqwest, own runtime, threads named "loadgen") shares the process and the cores.
//! 1. Sign-in through HTTP (/authorize?prompt=login → login page → POST /login → 303 with a
//!    code) vs raw argon2id verifications (`verify_with_memory`) on N threads.
//! 2. Code → token for an ES256 client with `offline_access` (code consumed, refresh token
//!    stored) vs raw ES256 signatures of a real ID token's claims on N threads; the codes
//!    are minted first by SSO (/authorize with a session cookie).
//! 3. Refresh-token rotation (each task rotates its own family, durable) vs the same ES256
//!    baseline, and introspection of an access token.
//! 4. Userinfo and discovery GETs.
//!
//! HTTP runs follow an untimed warm-up; baselines run half before and half after. The CPU
//! time of the process gives each row's busy cores and rates per CPU-second. Loops are
//! bounded in count and time.

use std::future::Future;
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Barrier, Mutex, OnceLock};
use std::time::{Duration, Instant};

use actix_web::web;
use anyhow::{Context, Result, anyhow, ensure};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use diesel::{Connection, PgConnection, connection::SimpleConnection};
use reqwest::{Client, Response, StatusCode, redirect::Policy};
use tempfile::TempDir;
use uec_idp::config::Settings;
use uec_idp::hashing::verify_with_memory;
use uec_idp::oidc::keys::SigningAlg::ES256;
use uec_idp::services::accounts::{IssuePolicy, NewAccount, create_account};
use uec_idp::services::clients::{NewClient, register_client};
use uec_idp::startup::{AppState, Application};

const PASSWORD: &str = "correct horse battery staple";
const REDIRECT: &str = "http://127.0.0.1:9/cb";
const REDIRECT_ENCODED: &str = "http%3A%2F%2F127.0.0.1%3A9%2Fcb";
/// Concurrent sign-in browsers: enough to keep the hashing pool's queue fed.
const BROWSERS: usize = 16;
/// Concurrent tasks for token, userinfo and discovery requests.
const TASKS: usize = 32;
const CODES_WARMUP: usize = 200;
const CODES: usize = 2_000;
const CLOCK_TICKS: f64 = 100.0; // Linux's USER_HZ, the unit of CPU times in /proc

fn main() -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores())
        .thread_name("loadgen")
        .enable_all()
        .build()?;
    let result = runtime.block_on(run(cores()));
    runtime.shutdown_timeout(Duration::from_secs(1));
    result
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

async fn run(n: usize) -> Result<()> {
    let b = Arc::new(Bench::start(n).await?);
    let phc = &b.state.hasher.hash(PASSWORD.into()).await?;
    let argon2 = || {
        on_threads(n, (160, 3), || {
            let mut memory = Vec::new();
            move || {
                let ok = verify_with_memory(PASSWORD, phc, &mut memory)?;
                ensure!(ok, "the raw verification failed");
                Ok(())
            }
        })
    };
    let sign_in = |b: Arc<Bench>, task, _| async move { b.sign_in(task).await };
    let argon2_before = argon2()?;
    let logins = drive(&b, (BROWSERS, BROWSERS, 300, 15), sign_in).await?;
    let argon2 = Some(("raw argon2", argon2_before.plus(argon2()?)));

    // Codes by SSO: the extra browser signs in once, then /authorize answers at once.
    b.sign_in(BROWSERS).await?;
    let mint = |b: Arc<Bench>, _, i: usize| async move {
        let r = b.browsers[BROWSERS].get(&b.code_url).send().await?;
        let back = location(&r, StatusCode::FOUND)?;
        let code = back.split("code=").nth(1).and_then(|c| c.split('&').next());
        let code = code.context("no code")?.to_string();
        b.codes[i].set(code).map_err(|_| anyhow!("code {i} twice"))
    };
    let minting = drive(&b, (TASKS, 0, b.codes.len(), 30), mint).await?;
    ensure!(minting.count == b.codes.len(), "codes missing");
    let tokens: serde_json::Value = b.exchange(0).await?.json().await?;
    for field in ["access_token", "id_token", "refresh_token"] {
        ensure!(tokens[field].is_string(), "no {field}: {tokens}");
    }
    let id_token = tokens["id_token"].as_str().unwrap_or_default();
    let payload = id_token.split('.').nth(1).unwrap_or_default();
    let claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload)?)?;
    let (keys, claims) = (&b.state.keys(), &claims);
    let es256_rate = || {
        on_threads(n, (100_000, 1), || {
            move || {
                keys.sign(ES256, "JWT", claims)?;
                Ok(())
            }
        })
    };
    let exchange = |b: Arc<Bench>, task, i| async move {
        let tokens: serde_json::Value = b.exchange(1 + i).await?.json().await?;
        b.keep_refresh_token(task, &tokens)
    };
    let es256_before = es256_rate()?;
    let exchanges = drive(&b, (TASKS, CODES_WARMUP, CODES, 30), exchange).await?;
    let es256 = Some(("raw ES256 sign", es256_before.plus(es256_rate()?)));

    let get = |path: &'static str, bearer: Option<String>| {
        move |b: Arc<Bench>, _, _| {
            let mut request = b.http.get(format!("{}{path}", b.base));
            if let Some(token) = &bearer {
                request = request.bearer_auth(token);
            }
            async move {
                let r = request.send().await?;
                ensure!(r.status() == StatusCode::OK, "{path}: {}", r.status());
                r.bytes().await?;
                Ok(())
            }
        }
    };
    let refresh = |b: Arc<Bench>, task, _| async move { b.refresh(task).await };
    let es256_before = es256_rate()?;
    let refreshes = drive(&b, (TASKS, 200, 4_000, 30), refresh).await?;
    let es256_refresh = Some(("raw ES256 sign", es256_before.plus(es256_rate()?)));

    let access_token = tokens["access_token"].as_str().map(String::from);
    let token = access_token.clone().unwrap_or_default();
    let introspect = move |b: Arc<Bench>, _, _| {
        let token = token.clone();
        async move { b.introspect(&token).await }
    };
    let introspections = drive(&b, (TASKS, 1_000, 40_000, 4), introspect).await?;
    let userinfo = get("/userinfo", access_token);
    let userinfo = drive(&b, (TASKS, 1_000, 40_000, 4), userinfo).await?;
    let discovery = get("/.well-known/openid-configuration", None);
    let discovery = drive(&b, (TASKS, 1_000, 80_000, 4), discovery).await?;

    let p = b.state.hasher.params();
    let (m, t, lanes) = (p.memory_kib, p.iterations, p.parallelism);
    let db = b.schema.as_ref().map_or("SQLite", |_| "PostgreSQL");
    println!(
        "uec-idp benchmark ({n} cores, {db}, argon2id m={m} t={t} p={lanes}; load generator \
         in-process, sharing the {n} cores with the server)\n\
         {:<30} {:>9}  {:<25} {:>5}  {:<11} {:<3}  {:<5}  per CPU-s",
        "workload", "measured", "baseline", "ratio", "target", "met", "cores"
    );
    row("password sign-in (HTTP flow)", logins, argon2, Ratio(0.9));
    row(
        "code -> token (ES256, durable)",
        exchanges,
        es256,
        PerSec(3e3),
    );
    row(
        "refresh, rotated (durable)",
        refreshes,
        es256_refresh,
        PerSec(2.4e3),
    );
    row("introspection", introspections, None, PerSec(5e3));
    row("userinfo", userinfo, None, PerSec(1e4));
    row("discovery", discovery, None, PerSec(1e4));
    row("authorize, SSO (mints codes)", minting, None, Nothing);
    println!(
        "(sign-in: {BROWSERS} browsers, an account each; other rows: {TASKS} tasks; baselines: \
         {n} threads. A token response holds two ES256 signatures, access and ID token. cores: \
         busy in this process. per CPU-s: rate x {n} per busy core, or the ratio of those.)"
    );
    Ok(())
}

/// What a row is judged by.
enum Target {
    Ratio(f64),
    PerSec(f64),
    Nothing,
}
use Target::*;

fn row(name: &str, measured: Rate, baseline: Option<(&str, Rate)>, target: Target) {
    let rate = measured.per_sec();
    let ratio = baseline.map(|(_, raw)| rate / raw.per_sec());
    let (target, met) = match target {
        Ratio(min) => (format!(">= {min:.2}"), ratio.map(|r| r >= min)),
        PerSec(min) => (format!(">= {}", per_sec(min)), Some(rate >= min)),
        Nothing => ("-".into(), None),
    };
    let per_cpu = match baseline {
        Some((_, raw)) => format!("{:.3}", measured.per_cpu_sec() / raw.per_cpu_sec()),
        None => per_sec(measured.per_cpu_sec() * cores() as f64),
    };
    let base = baseline.map(|(what, raw)| format!("{what} {}", per_sec(raw.per_sec())));
    println!(
        "{name:<30} {:>9}  {:<25} {:>5}  {target:<11} {:<3}  {:<5.2}  {per_cpu}",
        per_sec(rate),
        base.as_deref().unwrap_or("-"),
        ratio.map_or("-".into(), |r| format!("{r:.3}")),
        met.map_or("", |ok| if ok { "yes" } else { "NO" }),
        measured.cpu_secs / measured.secs,
    );
}

/// "987.6/s", "12,345/s" (no rate here reaches a million).
fn per_sec(v: f64) -> String {
    match v.round() as u64 {
        n if n >= 1_000 => format!("{},{:03}/s", n / 1_000, n % 1_000),
        _ => format!("{v:.1}/s"),
    }
}

/// Completed operations over elapsed time, and the CPU time this process used meanwhile.
#[derive(Clone, Copy)]
struct Rate {
    count: usize,
    secs: f64,
    cpu_secs: f64,
}

impl Rate {
    fn per_sec(self) -> f64 {
        self.count as f64 / self.secs
    }

    fn per_cpu_sec(self) -> f64 {
        self.count as f64 / self.cpu_secs.max(0.01)
    }

    /// Two runs of one baseline (before and after a measurement) as one.
    fn plus(self, other: Rate) -> Rate {
        let (count, secs) = (self.count + other.count, self.secs + other.secs);
        let cpu_secs = self.cpu_secs + other.cpu_secs;
        Rate {
            count,
            secs,
            cpu_secs,
        }
    }
}

/// CPU seconds this process has used so far (utime + stime, all threads, dead ones too).
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // "pid (comm) state ...": utime and stime are the 12th and 13th fields after comm.
    let (_, fields) = stat.rsplit_once(')').unwrap_or_default();
    let fields = fields.split_whitespace().skip(11).take(2);
    fields.filter_map(|f| f.parse::<f64>().ok()).sum::<f64>() / CLOCK_TICKS
}

/// `op(bench, task, i)` on `tasks` concurrent tasks: first for i in 0..warm, untimed, then
/// for the next `total` values of i, timed; each phase stops early after `limit` seconds.
async fn drive<F, Fut>(b: &Arc<Bench>, load: (usize, usize, usize, u64), op: F) -> Result<Rate>
where
    F: Fn(Arc<Bench>, usize, usize) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<()>> + Send + 'static,
{
    let (tasks, warm, total, limit) = load;
    let mut rate = None;
    for (from, to) in [(0, warm), (warm, warm + total)] {
        let next = Arc::new(AtomicUsize::new(from));
        let (started, cpu_before) = (Instant::now(), cpu_secs());
        let deadline = started + Duration::from_secs(limit);
        let mut set = tokio::task::JoinSet::new();
        for task in 0..tasks {
            let (b, op, next) = (b.clone(), op.clone(), next.clone());
            set.spawn(async move {
                let mut done = 0;
                loop {
                    let i = next.fetch_add(1, Relaxed);
                    if i >= to || Instant::now() >= deadline {
                        return Ok::<_, anyhow::Error>(done);
                    }
                    op(b.clone(), task, i).await?;
                    done += 1;
                }
            });
        }
        let mut count = 0;
        while let Some(joined) = set.join_next().await {
            count += joined.context("load task panicked")??;
        }
        let (secs, cpu_secs) = (started.elapsed().as_secs_f64(), cpu_secs() - cpu_before);
        rate = Some(Rate {
            count,
            secs,
            cpu_secs,
        });
    }
    rate.context("no run")
}

/// Runs a `make()` closure on each of `threads` OS threads: one untimed warm-up call, then
/// calls until `total` are done in all or `limit` seconds have passed.
fn on_threads<W>(threads: usize, load: (usize, u64), make: impl Fn() -> W + Sync) -> Result<Rate>
where
    W: FnMut() -> Result<()>,
{
    let (total, limit) = load;
    let (next, warm) = (AtomicUsize::new(0), Barrier::new(threads + 1));
    let run = || {
        let mut work = make();
        let warmed = work();
        warm.wait(); // also after a failed warm-up, so that nobody waits forever
        warmed?;
        let deadline = Instant::now() + Duration::from_secs(limit);
        let mut done = 0;
        while next.fetch_add(1, Relaxed) < total && Instant::now() < deadline {
            work()?;
            done += 1;
        }
        Ok::<_, anyhow::Error>(done)
    };
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads).map(|_| scope.spawn(run)).collect();
        warm.wait();
        let (started, cpu_before, mut count) = (Instant::now(), cpu_secs(), 0);
        for worker in workers {
            count += worker.join().map_err(|_| anyhow!("thread panicked"))??;
        }
        let (secs, cpu_secs) = (started.elapsed().as_secs_f64(), cpu_secs() - cpu_before);
        Ok(Rate {
            count,
            secs,
            cpu_secs,
        })
    })
}

/// The Location of a response that must have status `expected`.
fn location(r: &Response, expected: StatusCode) -> Result<String> {
    let location = r.headers().get("location").and_then(|v| v.to_str().ok());
    let location = location.unwrap_or_default().to_string();
    let status = r.status();
    ensure!(
        status == expected,
        "{status} to {location:?}, not {expected}"
    );
    Ok(location)
}

/// The value of `<input type="hidden" name="NAME" value="...">` in a page.
fn hidden_field(html: &str, name: &str) -> Result<String> {
    let marker = format!(r#"name="{name}" value=""#);
    let found = html.find(&marker).context("no such field")?;
    let value = &html[found + marker.len()..];
    let end = value.find('"').context("unterminated field")?;
    Ok(value[..end].to_string())
}

/// The provider under test, its relying party, and the clients that load it.
struct Bench {
    base: String,
    state: web::Data<AppState>,
    client: (String, String),
    /// BROWSERS sign-in browsers, and one more whose SSO session mints the codes.
    browsers: Vec<Client>,
    /// For token, userinfo and discovery requests (no cookies).
    http: Client,
    login_url: String,
    code_url: String,
    codes: Vec<OnceLock<String>>,
    /// The current refresh token of each load task (each task rotates its own family).
    refresh_tokens: Vec<Mutex<String>>,
    schema: Option<PgSchema>,
    _dir: TempDir,
}

impl Bench {
    async fn start(threads: usize) -> Result<Bench> {
        let dir = tempfile::tempdir()?;
        let pg = std::env::var("UEC_IDP_BENCH_DATABASE_URL").unwrap_or_default();
        let schema = (!pg.is_empty()).then(|| {
            let id = uec_idp::secrets::new_id()
                .to_lowercase()
                .replace(['-', '_'], "");
            PgSchema(pg, format!("bench_{id}"))
        });
        if let Some(PgSchema(url, name)) = &schema {
            let mut conn = PgConnection::establish(url)?;
            conn.batch_execute(&format!("CREATE SCHEMA {name}"))?;
        }
        let sqlite = format!("sqlite://{}", dir.path().join("idp.sqlite3").display());
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let base = format!("http://{}", listener.local_addr()?);
        let mut settings = Settings {
            issuer: base.clone(),
            listen: listener.local_addr()?.to_string(),
            database_url: schema.as_ref().map_or(sqlite, PgSchema::url),
            keys_dir: dir.path().join("keys"),
            workers: threads,
            ..Settings::default()
        };
        settings.mail.dir = dir.path().join("mail");
        // The load comes from loopback: count it as campus, where a password suffices.
        settings.network.campus.push("127.0.0.0/8".into());
        // Thousands of sign-ins a second from one address: the per-address rate limit
        // (meant for floods from the network) would measure itself, not the flows.
        settings.limits.rate_per_second = 0;
        settings.limits.open_flows_per_address = 1_000_000;
        let clock = Arc::new(uec_idp::clock::SystemClock);
        let app = Application::build(settings, Some(listener), clock).await?;
        let state = app.state();
        tokio::spawn(app.run_until_stopped());

        let s = state.clone();
        let seeding = tokio::task::spawn_blocking(move || {
            for task in 0..BROWSERS {
                let mut new = NewAccount::default();
                (new.id, new.name) = (user(task), format!("Bench {task}"));
                (new.affiliation, new.password) = ("student".into(), Some(PASSWORD.into()));
                create_account(
                    &s.db,
                    &s.hasher,
                    new,
                    s.clock.now(),
                    &IssuePolicy::from_settings(&s.settings),
                )?;
            }
            let mut new = NewClient::default();
            (new.name, new.redirect_uris) = ("Bench RP".into(), vec![REDIRECT.into()]);
            new.id_token_alg = Some("ES256".into());
            let rp = register_client(&s.db, new, s.clock.now())?;
            let secret = rp.client_secret.context("no client secret")?;
            Ok::<_, anyhow::Error>((rp.client_id, secret))
        });
        let client = seeding.await??;

        let authorize = |scope: &str| {
            format!(
                "{base}/authorize?response_type=code&client_id={}&state=st-1\
                 &redirect_uri={REDIRECT_ENCODED}&scope=openid+profile+email{scope}",
                client.0
            )
        };
        let browser = || {
            Client::builder()
                .cookie_store(true)
                .redirect(Policy::none())
        };
        let browsers = (0..=BROWSERS).map(|_| browser().build());
        let n_codes = 1 + CODES_WARMUP + CODES;
        Ok(Bench {
            login_url: authorize("&prompt=login"),
            code_url: authorize("+offline_access&nonce=n-0"),
            browsers: browsers.collect::<Result<_, _>>()?,
            http: Client::builder().pool_max_idle_per_host(TASKS).build()?,
            codes: (0..n_codes).map(|_| OnceLock::new()).collect(),
            refresh_tokens: (0..TASKS).map(|_| Mutex::new(String::new())).collect(),
            base,
            state,
            client,
            schema,
            _dir: dir,
        })
    }

    /// Browser `task` goes authorize → login page → POST /login → back to the RP with a
    /// code: with `prompt=login` for the sign-in browsers, without for the SSO one.
    async fn sign_in(&self, task: usize) -> Result<()> {
        let (browser, base) = (&self.browsers[task], &self.base);
        let sso = task == BROWSERS;
        let url = if sso { &self.code_url } else { &self.login_url };
        let login = location(&browser.get(url).send().await?, StatusCode::FOUND)?;
        ensure!(login.starts_with("/login?flow="), "went to {login}");
        let page = browser.get(format!("{base}{login}")).send().await?;
        ensure!(page.status() == StatusCode::OK, "login {}", page.status());
        let html = page.text().await?;
        let form = [
            ("flow", hidden_field(&html, "flow")?),
            ("csrf", hidden_field(&html, "csrf")?),
            ("username", user(task % BROWSERS)),
            ("password", PASSWORD.to_string()),
        ];
        let post = browser.post(format!("{base}/login")).form(&form);
        let back = location(&post.send().await?, StatusCode::SEE_OTHER)?;
        let ok = back.starts_with(REDIRECT) && back.contains("code=");
        ensure!(ok, "sign-in ended at {back}");
        Ok(())
    }

    fn keep_refresh_token(&self, task: usize, tokens: &serde_json::Value) -> Result<()> {
        let token = tokens["refresh_token"]
            .as_str()
            .context("no refresh token")?;
        *self.refresh_tokens[task]
            .lock()
            .map_err(|_| anyhow!("poisoned"))? = token.to_string();
        Ok(())
    }

    /// Rotates task `task`'s refresh token once.
    async fn refresh(&self, task: usize) -> Result<()> {
        let current = self.refresh_tokens[task]
            .lock()
            .map_err(|_| anyhow!("poisoned"))?
            .clone();
        let form = [("grant_type", "refresh_token"), ("refresh_token", &current)];
        let (id, secret) = &self.client;
        let request = self.http.post(format!("{}/token", self.base));
        let r = request
            .basic_auth(id, Some(secret))
            .form(&form)
            .send()
            .await?;
        ensure!(r.status() == StatusCode::OK, "refresh: {}", r.status());
        self.keep_refresh_token(task, &r.json().await?)
    }

    async fn introspect(&self, token: &str) -> Result<()> {
        let (id, secret) = &self.client;
        let request = self.http.post(format!("{}/introspect", self.base));
        let r = request
            .basic_auth(id, Some(secret))
            .form(&[("token", token)])
            .send()
            .await?;
        ensure!(r.status() == StatusCode::OK, "introspect: {}", r.status());
        let body: serde_json::Value = r.json().await?;
        ensure!(body["active"] == true, "token inactive: {body}");
        Ok(())
    }

    /// POST /token for minted code `i`, with HTTP Basic client authentication.
    async fn exchange(&self, i: usize) -> Result<Response> {
        let code = self.codes[i].get().context("code not minted")?;
        let grant = ("grant_type", "authorization_code");
        let form = [grant, ("code", code), ("redirect_uri", REDIRECT)];
        let request = self.http.post(format!("{}/token", self.base));
        let (id, secret) = &self.client;
        let request = request.basic_auth(id, Some(secret)).form(&form);
        let r = request.send().await?;
        ensure!(r.status() == StatusCode::OK, "token: {}", r.status());
        Ok(r)
    }
}

/// The account of sign-in browser `task` (UEC account IDs: a letter and seven digits).
fn user(task: usize) -> String {
    format!("b24{task:05}")
}

/// A fresh PostgreSQL schema (server URL, name), dropped at the end, as in
/// tests/it/helpers.rs `TestDb`.
struct PgSchema(String, String);

impl PgSchema {
    fn url(&self) -> String {
        let sep = if self.0.contains('?') { '&' } else { '?' };
        format!("{}{sep}options=-csearch_path%3D{}", self.0, self.1)
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        if let Ok(mut conn) = PgConnection::establish(&self.0) {
            let _ = conn.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.1));
        }
    }
}
