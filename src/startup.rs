//! Building and running the provider: checked configuration → database (migrated) →
//! signing keys → hashing pool → HTTP server, plus the background sweeps.

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use actix_web::dev::Server;
use actix_web::middleware::Condition;
use actix_web::{App, HttpServer, web};

use crate::clock::Clock;
use crate::config::{ConfigError, Settings, Validated};
use crate::domain::second_factor::passkey::Passkeys;
use crate::hashing::PasswordHasher;
use crate::mail::Mailer;
use crate::oidc::keys::KeySet;
use crate::server_secret::ServerSecret;
use crate::services::backchannel_logout::{self, Wakeup};
use crate::services::lifecycle::{LifecyclePolicy, run_pass};
use crate::store::{self, Db};
use crate::{oidc, web as routes};

/// Everything a request handler may need; shared by all workers.
pub struct AppState {
    pub settings: Settings,
    pub cfg: Validated,
    pub db: Db,
    pub hasher: PasswordHasher,
    pub clock: Arc<dyn Clock>,
    pub mailer: Mailer,
    /// Seals TOTP seeds and MACs low-entropy codes.
    pub server_secret: Arc<ServerSecret>,
    pub passkeys: Arc<Passkeys>,
    /// The discovery document, serialised once.
    pub discovery_json: String,
    keys: RwLock<Arc<KeySet>>,
    /// Wakes the back-channel logout worker after notifications were queued.
    pub backchannel: Arc<Wakeup>,
}

impl AppState {
    /// The current signing keys (swapped in place when `keys rotate` adds one).
    pub fn keys(&self) -> Arc<KeySet> {
        match self.keys.read() {
            Ok(k) => Arc::clone(&k),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    fn replace_keys(&self, keys: KeySet) {
        match self.keys.write() {
            Ok(mut k) => *k = Arc::new(keys),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(keys),
        }
    }
}

/// How long a replaced signing key stays published: until every token it signed expired.
pub fn key_retention_secs(settings: &Settings) -> i64 {
    settings
        .tokens
        .id_token_ttl
        .max(settings.tokens.access_token_ttl)
        + 300
}

/// Connects and migrates the database named by the settings.
pub fn open_database(settings: &Settings, cfg: &Validated) -> Result<Db, ConfigError> {
    let db = Db::connect(&cfg.database, settings.database_pool_size)
        .map_err(|e| ConfigError::new("database_url", e))?;
    migrated(db)
}

/// Applies pending migrations to `db`.
pub fn migrated(db: Db) -> Result<Db, ConfigError> {
    let applied = db
        .migrate()
        .map_err(|e| ConfigError::new("database_url", e))?;
    if applied > 0 {
        tracing::info!(applied, "database migrations applied");
    }
    Ok(db)
}

pub fn hashing_pool(settings: &Settings, cfg: &Validated) -> Result<PasswordHasher, ConfigError> {
    let p = &settings.passwords;
    let threads = if p.hashing_threads == 0 {
        cores()
    } else {
        p.hashing_threads
    };
    PasswordHasher::new(cfg.argon2, threads, p.hashing_queue)
        .map_err(|e| ConfigError::new("passwords", e))
}

fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
}

/// How long a stopping server gives the requests it already accepted to finish.
const SHUTDOWN_GRACE_SECS: u64 = 10;

pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<AppState>,
    /// Key reloads, sweeps, lifecycle passes and the back-channel logout worker: stopped
    /// with the server, so a stopped server sends and writes nothing more.
    background: Vec<tokio::task::JoinHandle<()>>,
}

impl Application {
    /// Builds the provider on `listener` (or a new one on `settings.listen`).
    pub async fn build(
        settings: Settings,
        listener: Option<TcpListener>,
        clock: Arc<dyn Clock>,
    ) -> Result<Application, ConfigError> {
        let cfg = settings.validate()?;
        let listener = match listener {
            Some(l) => l,
            None => TcpListener::bind(cfg.listen).map_err(|e| {
                ConfigError::new("listen", format!("cannot listen on {}: {e}", cfg.listen))
            })?,
        };
        let port = listener
            .local_addr()
            .map_err(|e| ConfigError::new("listen", e))?
            .port();
        let mailer = Mailer::from_settings(&settings.mail)?;
        let (db, keys, hasher, server_secret, passkeys) = {
            let (settings, cfg, now) = (settings.clone(), cfg.clone(), clock.now());
            // Connecting, migrating and generating RSA keys block: keep them off the executor.
            tokio::task::spawn_blocking(move || {
                let db = open_database(&settings, &cfg)?;
                let keys = KeySet::load_or_generate(
                    &settings.keys_dir,
                    key_retention_secs(&settings),
                    now,
                )
                .map_err(|e| ConfigError::new("keys_dir", e))?;
                let hasher = hashing_pool(&settings, &cfg)?;
                let secret = ServerSecret::load_or_generate(&settings.keys_dir)
                    .map_err(|e| ConfigError::new("keys_dir", e))?;
                let passkeys =
                    Passkeys::new(&cfg.issuer).map_err(|e| ConfigError::new("issuer", e))?;
                Ok::<_, ConfigError>((db, keys, hasher, secret, passkeys))
            })
            .await
            .map_err(|e| ConfigError::new("startup", e))??
        };
        let discovery_json = oidc::discovery::document(&cfg.issuer, &cfg.base).to_string();
        let workers = if settings.workers == 0 {
            cores()
        } else {
            settings.workers
        };
        let state = web::Data::new(AppState {
            settings,
            cfg,
            db,
            hasher,
            clock,
            mailer,
            server_secret: Arc::new(server_secret),
            passkeys: Arc::new(passkeys),
            discovery_json,
            keys: RwLock::new(Arc::new(keys)),
            backchannel: Arc::new(Wakeup::default()),
        });
        let app_state = state.clone();
        let https = state.cfg.secure_cookies;
        let rate_limit = routes::limits::rate_limit(
            state.settings.limits.rate_per_second,
            state.settings.limits.rate_burst,
            state.cfg.trusted_proxies.clone(),
        );
        let limiter = rate_limit.as_ref().map(|r| r.limiter().clone());
        let server = HttpServer::new(move || {
            let governor = match &rate_limit {
                Some(config) => Condition::new(true, actix_governor::Governor::new(config)),
                // Switched off: the condition never calls it; a default config gives the type.
                None => Condition::new(
                    false,
                    actix_governor::Governor::new(&routes::limits::disabled_rate_limit()),
                ),
            };
            App::new()
                .wrap(routes::middleware::strict_transport(https))
                .wrap(governor)
                .wrap(actix_web::middleware::from_fn(routes::limits::guard))
                // Backstops for bodies without Content-Length (see `limits::guard`).
                .app_data(web::PayloadConfig::new(routes::limits::MAX_BODY))
                .app_data(web::FormConfig::default().limit(routes::limits::FORM_LIMIT))
                .app_data(web::JsonConfig::default().limit(routes::limits::JSON_LIMIT))
                .app_data(app_state.clone())
                .configure(routes::routes::configure)
        })
        .workers(workers)
        .shutdown_timeout(SHUTDOWN_GRACE_SECS)
        .listen(listener)
        .map_err(|e| ConfigError::new("listen", e))?
        .run();
        let mut background = vec![
            tokio::spawn(reload_keys(state.clone())),
            tokio::spawn(sweep_expired(state.clone())),
            tokio::spawn(backchannel_logout::run(
                state.clone().into_inner(),
                state.backchannel.clone(),
            )),
        ];
        if let Some(limiter) = limiter {
            background.push(tokio::spawn(forget_idle_addresses(limiter)));
        }
        if state.settings.lifecycle.interval_secs > 0 {
            background.push(tokio::spawn(lifecycle_passes(state.clone())));
        }
        Ok(Application {
            port,
            server,
            state,
            background,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// Stops the server from outside (graceful), e.g. to restart it in a test.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped (SIGTERM or SIGINT, or [`Self::handle`]): the listener closes
    /// first, accepted requests get up to `SHUTDOWN_GRACE_SECS` to finish, then the
    /// background work stops and this application's handle on the database pool is
    /// dropped; the pool closes its connections once no other holder remains (in `serve`,
    /// none does). A back-channel delivery cut short stays leased in the outbox and is
    /// retried by the next server.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let Application {
            server,
            state,
            background,
            ..
        } = self;
        let result = server.await;
        for task in &background {
            task.abort();
        }
        for task in background {
            // A task ends as cancelled here; one that had panicked was logged then.
            let _ = task.await;
        }
        drop(state);
        result
    }
}

/// Picks up keys added by `uec-idp keys rotate` without a restart: the directory's mtime
/// changes when a key file is added or removed.
async fn reload_keys(state: web::Data<AppState>) {
    let dir = state.settings.keys_dir.clone();
    let mut seen = dir_mtime(&dir);
    let mut tick = tokio::time::interval(Duration::from_secs(30));
    loop {
        tick.tick().await;
        let now_mtime = dir_mtime(&dir);
        if now_mtime == seen {
            continue;
        }
        seen = now_mtime;
        let (dir, retain, now) = (
            dir.clone(),
            key_retention_secs(&state.settings),
            state.clock.now(),
        );
        match tokio::task::spawn_blocking(move || KeySet::load(&dir, retain, now)).await {
            Ok(Ok(keys)) => {
                tracing::info!(published = keys.published().len(), "signing keys reloaded");
                state.replace_keys(keys);
            }
            Ok(Err(e)) => tracing::error!(error = %e, "signing keys not reloaded"),
            Err(e) => tracing::error!(error = %e, "key reload task failed"),
        }
    }
}

fn dir_mtime(dir: &PathBuf) -> Option<SystemTime> {
    std::fs::metadata(dir).and_then(|m| m.modified()).ok()
}

/// The rate limiter keeps a cell per client address: addresses whose allowance is full
/// again are dropped every minute, so the map stays as small as the current traffic.
async fn forget_idle_addresses<K, S>(
    limiter: Arc<
        actix_governor::governor::RateLimiter<
            K,
            S,
            actix_governor::governor::clock::QuantaClock,
            actix_governor::governor::middleware::NoOpMiddleware<
                actix_governor::governor::clock::QuantaInstant,
            >,
        >,
    >,
) where
    K: std::hash::Hash + Eq + Clone,
    S: actix_governor::governor::state::keyed::ShrinkableKeyedStateStore<K>
        + actix_governor::governor::state::StateStore<Key = K>,
{
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        limiter.retain_recent();
        limiter.shrink_to_fit();
    }
}

/// Deletion reminders and deletions, every `lifecycle.interval_secs` (first one a minute
/// after start, off the start-up path). Reminders are claimed, so restarts resend nothing.
async fn lifecycle_passes(state: web::Data<AppState>) {
    let policy = LifecyclePolicy::from_settings(&state.settings);
    let every = Duration::from_secs(state.settings.lifecycle.interval_secs);
    let mut tick =
        tokio::time::interval_at(tokio::time::Instant::now() + Duration::from_secs(60), every);
    loop {
        tick.tick().await;
        if let Err(e) = run_pass(&state.db, &state.mailer, &policy, state.clock.now()).await {
            tracing::warn!(error = %e, "lifecycle pass failed");
        }
    }
}

/// Deletes expired sessions, login flows, codes, pending reissues, refresh tokens,
/// denylist rows, seen DPoP proofs, pushed requests and sign-in throttle counters past
/// their window every ten minutes: every table that unauthenticated traffic can grow.
async fn sweep_expired(state: web::Data<AppState>) {
    let mut tick = tokio::time::interval(Duration::from_secs(600));
    loop {
        tick.tick().await;
        let now = state.clock.now();
        let stale_after = crate::services::throttle::stale_after_secs(&state.settings);
        let swept = state
            .db
            .run(move |conn| {
                Ok::<_, store::StoreError>(
                    store::sessions::delete_expired(conn, now)?
                        + store::login_flows::delete_expired(conn, now)?
                        + store::grants::delete_expired_codes(conn, now)?
                        + store::second_factors::delete_dead_codes(conn, now)?
                        + store::reissue::delete_expired(conn, now)?
                        + store::refresh_tokens::delete_expired(conn, now)?
                        + store::revocations::delete_expired(conn, now)?
                        + store::pushed_requests::delete_expired(conn, now)?
                        + store::throttle::delete_stale(conn, now - stale_after, now)?,
                )
            })
            .await;
        match swept {
            Ok(n) if n > 0 => tracing::debug!(rows = n, "expired rows swept"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "sweep failed"),
        }
    }
}
