//! Settings: embedded defaults, then `uec-idp.toml` (or `--config FILE`), then
//! `UEC_IDP_<SECTION>_<KEY>` environment variables (INTERFACE.md). `Settings::validate`
//! turns the raw values into typed ones once, at start-up, and fails with one line that
//! names the key and the problem.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::domain::network_zone::NetworkZones;
use crate::hashing::Argon2Params;

/// The sections of the configuration file; an environment variable
/// `UEC_IDP_<SECTION>_<KEY>` sets `<section>.<key>`, any other sets a top-level key.
const SECTIONS: &[&str] = &[
    "network",
    "mail",
    "passwords",
    "tokens",
    "accounts",
    "throttle",
    "second_factor",
    "lifecycle",
    "logout",
    "limits",
    "outbound",
];

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Exact issuer URL, also the base of every endpoint.
    pub issuer: String,
    pub listen: String,
    pub database_url: String,
    /// Connections in the database pool (also bounds concurrent database work).
    pub database_pool_size: u32,
    pub keys_dir: PathBuf,
    /// HTTP worker threads; 0 = one per core.
    pub workers: usize,
    pub network: NetworkSettings,
    pub mail: MailSettings,
    pub passwords: PasswordSettings,
    pub tokens: TokenSettings,
    pub accounts: AccountSettings,
    pub throttle: ThrottleSettings,
    pub second_factor: SecondFactorSettings,
    pub lifecycle: LifecycleSettings,
    pub logout: LogoutSettings,
    pub limits: LimitSettings,
    pub outbound: OutboundSettings,
}

/// Bounds on what unauthenticated traffic may cost (issue #12 item 5).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct LimitSettings {
    /// Requests per second each client address may make to the unauthenticated endpoints
    /// (sign-in, `/authorize`, `/par`, `/register`, `/reissue`, `/logout`), sustained;
    /// 0 turns the limit off.
    pub rate_per_second: u32,
    /// Requests an address may make at once before the sustained rate applies.
    pub rate_burst: u32,
    /// Sign-ins in progress (login flows) one address may have open; beyond it the
    /// address's oldest are dropped.
    pub open_flows_per_address: i64,
    /// Pushed requests of public clients one address may have waiting; beyond it the
    /// address's oldest are dropped.
    pub pushed_requests_per_address: i64,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            rate_per_second: 20,
            rate_burst: 200,
            open_flows_per_address: 1000,
            pushed_requests_per_address: 200,
        }
    }
}

/// Calls this provider makes to addresses that relying parties chose (back-channel logout).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct OutboundSettings {
    /// Hosts (as written in the URI) where a portal or dynamically registered client may
    /// use plain http: a development allow-list; empty in production.
    pub http_allowed_hosts: Vec<String>,
    /// Networks that portal and dynamically registered clients may reach although they
    /// are loopback, private, link-local and so on (CIDRs); empty in production.
    pub allowed_networks: Vec<String>,
    /// Apply the address rules to the operator's `client register` clients too.
    pub check_operator_clients: bool,
}

/// Back-channel logout delivery (OpenID Connect Back-Channel Logout 1.0).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct LogoutSettings {
    /// Milliseconds between looks at the outbox for due retries (a logout on this server
    /// wakes the worker at once; the poll finds retries and rows written by other servers).
    pub poll_interval_ms: u64,
    /// Seconds a relying party has to answer a logout token.
    pub request_timeout_secs: u64,
    /// Tries before a notification is given up (and audited).
    pub max_attempts: i64,
}

impl Default for LogoutSettings {
    fn default() -> Self {
        Self {
            poll_interval_ms: 5000,
            request_timeout_secs: 5,
            max_attempts: 12,
        }
    }
}

/// When accounts end (DOMAIN.md "Validity"); periods in calendar months after the end date.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct LifecycleSettings {
    pub grace_months_students: u32,
    pub grace_months_faculty_staff: u32,
    /// Non-degree students and limited-term staff.
    pub grace_months_non_degree: u32,
    /// Days before deletion when a reminder goes out.
    pub reminder_days: Vec<i64>,
    /// Seconds between lifecycle passes inside `serve`; 0 = never (cron runs `lifecycle run`).
    pub interval_secs: u64,
}

impl Default for LifecycleSettings {
    fn default() -> Self {
        Self {
            grace_months_students: 2,
            grace_months_faculty_staff: 6,
            grace_months_non_degree: 0,
            reminder_days: vec![30, 7],
            interval_secs: 3600,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct SecondFactorSettings {
    /// Domains that may not receive sign-in codes: university mailboxes vanish with the
    /// account, locking its owner out.
    pub email_denied_domains: Vec<String>,
}

impl Default for SecondFactorSettings {
    fn default() -> Self {
        Self {
            email_denied_domains: crate::domain::second_factor::email_otp::default_denied_domains(),
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkSettings {
    pub campus: Vec<String>,
    pub vpn: Vec<String>,
    pub trusted_proxies: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct MailSettings {
    /// "file" (one .eml per message in `dir`) or "smtp".
    pub transport: String,
    pub dir: PathBuf,
    pub smtp_url: String,
    pub from: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct PasswordSettings {
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
    /// Threads that hash passwords; 0 = one per core.
    pub hashing_threads: usize,
    /// Sign-ins that may wait for a hashing thread before new ones are told to retry.
    pub hashing_queue: usize,
    /// Days an initial password is valid after issue.
    pub initial_password_days: i64,
    /// Days the owner has to change a password found weak at sign-in.
    pub weak_change_days: i64,
}

/// Lifetimes, in seconds.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct TokenSettings {
    pub code_ttl: i64,
    pub access_token_ttl: i64,
    pub id_token_ttl: i64,
    /// Absolute lifetime of a refresh-token family, from the grant.
    pub refresh_token_ttl: i64,
    /// A refresh token unused for this long expires (each rotation starts it again).
    pub refresh_idle_ttl: i64,
    pub session_ttl: i64,
    pub login_flow_ttl: i64,
    /// How far a DPoP proof's `iat` may be from the provider's clock.
    pub dpop_max_skew: i64,
    /// Require a server-issued `nonce` in every DPoP proof (RFC 9449 §8, §9).
    pub dpop_require_nonce: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct AccountSettings {
    /// Domain of the campus mailbox `<id>@<domain>`, the `email` claim when no alias is set.
    pub mailbox_domain: String,
}

/// Sign-in throttle (see `domain::throttle`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct ThrottleSettings {
    /// Failures allowed per account ID before attempts are spaced out.
    pub account_free_failures: i64,
    /// Failures allowed per client address; higher, because a campus NAT or the VPN puts
    /// many people behind one address.
    pub address_free_failures: i64,
    /// Failures older than this are forgotten.
    pub window_secs: i64,
    /// Longest wait imposed between attempts.
    pub max_delay_secs: i64,
    /// The address counters count IPv4 clients by this prefix (32: each address).
    pub ipv4_prefix: u8,
    /// ... and IPv6 clients by this one (64: one /64, a home or LAN whose host bits the
    /// client chooses freely).
    pub ipv6_prefix: u8,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            issuer: "http://127.0.0.1:8080".into(),
            listen: "127.0.0.1:8080".into(),
            database_url: "sqlite://data/uec-idp.sqlite3".into(),
            database_pool_size: 8,
            keys_dir: "keys".into(),
            workers: 0,
            network: NetworkSettings::default(),
            mail: MailSettings::default(),
            passwords: PasswordSettings::default(),
            tokens: TokenSettings::default(),
            accounts: AccountSettings::default(),
            throttle: ThrottleSettings::default(),
            second_factor: SecondFactorSettings::default(),
            lifecycle: LifecycleSettings::default(),
            logout: LogoutSettings::default(),
            limits: LimitSettings::default(),
            outbound: OutboundSettings::default(),
        }
    }
}

impl Default for MailSettings {
    fn default() -> Self {
        Self {
            transport: "file".into(),
            dir: "data/mail".into(),
            smtp_url: "smtp://127.0.0.1:2525".into(),
            from: "UEC IdP <no-reply@example.ac.jp>".into(),
        }
    }
}

impl Default for PasswordSettings {
    fn default() -> Self {
        let owasp = Argon2Params::OWASP;
        Self {
            argon2_memory_kib: owasp.memory_kib,
            argon2_iterations: owasp.iterations,
            argon2_parallelism: owasp.parallelism,
            hashing_threads: 0,
            hashing_queue: 256,
            initial_password_days: 90,
            weak_change_days: 14,
        }
    }
}

impl Default for TokenSettings {
    fn default() -> Self {
        Self {
            code_ttl: 60,
            access_token_ttl: 600,
            id_token_ttl: 600,
            refresh_token_ttl: 30 * 86_400,
            refresh_idle_ttl: 7 * 86_400,
            session_ttl: 10 * 3600,
            login_flow_ttl: 30 * 60,
            dpop_max_skew: 60,
            dpop_require_nonce: false,
        }
    }
}

impl Default for AccountSettings {
    fn default() -> Self {
        Self {
            mailbox_domain: "edu.cc.uec.ac.jp".into(),
        }
    }
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        Self {
            account_free_failures: 5,
            address_free_failures: 50,
            window_secs: 15 * 60,
            max_delay_secs: 15 * 60,
            ipv4_prefix: 32,
            ipv6_prefix: 64,
        }
    }
}

/// A configuration problem, printed as one line naming the key.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {key}: {problem}")]
pub struct ConfigError {
    pub key: String,
    pub problem: String,
}

impl ConfigError {
    /// The problem is folded onto one line (driver messages span several).
    pub fn new(key: impl Into<String>, problem: impl std::fmt::Display) -> Self {
        Self {
            key: key.into(),
            problem: problem
                .to_string()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
        }
    }
}

/// The database back-end named by `database_url`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

/// Settings checked and parsed once at start-up.
#[derive(Clone, Debug)]
pub struct Validated {
    /// The issuer exactly as configured: ID tokens, discovery and RFC 9207 `iss` must match
    /// it character for character.
    pub issuer: String,
    /// The issuer without a trailing slash: the base every endpoint URL is joined to.
    pub base: String,
    pub listen: SocketAddr,
    pub database: DatabaseUrl,
    pub zones: NetworkZones,
    pub trusted_proxies: Vec<IpNet>,
    pub argon2: Argon2Params,
    /// Cookies get `Secure` and the `__Host-` prefix when the issuer is https.
    pub secure_cookies: bool,
    /// `outbound.allowed_networks`, parsed.
    pub outbound_allowed: Vec<IpNet>,
}

impl Settings {
    /// Defaults, then `file` (or `uec-idp.toml` if present), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        match file {
            Some(path) => {
                if !path.is_file() {
                    return Err(ConfigError::new(
                        "--config",
                        format!("{} is not a readable file", path.display()),
                    ));
                }
                figment = figment.merge(Toml::file(path));
            }
            None => figment = figment.merge(Toml::file("uec-idp.toml")),
        }
        figment = figment.merge(Env::prefixed("UEC_IDP_").map(|key| env_key(key.as_str()).into()));
        figment.extract().map_err(|e| {
            let key = e.path.join(".");
            ConfigError::new(if key.is_empty() { "config".into() } else { key }, e.kind)
        })
    }

    pub fn validate(&self) -> Result<Validated, ConfigError> {
        if self.throttle.ipv4_prefix > 32 {
            return Err(ConfigError::new("throttle.ipv4_prefix", "must be 0 to 32"));
        }
        if self.throttle.ipv6_prefix > 128 {
            return Err(ConfigError::new("throttle.ipv6_prefix", "must be 0 to 128"));
        }
        let issuer = parse_issuer(&self.issuer)?;
        let listen = self.listen.parse().map_err(|_| {
            ConfigError::new(
                "listen",
                format!("{:?} is not an address:port", self.listen),
            )
        })?;
        let database = parse_database_url(&self.database_url)?;
        if self.database_pool_size == 0 {
            return Err(ConfigError::new("database_pool_size", "must be at least 1"));
        }
        let campus = parse_cidrs("network.campus", &self.network.campus)?;
        let vpn = parse_cidrs("network.vpn", &self.network.vpn)?;
        let trusted_proxies =
            parse_cidrs("network.trusted_proxies", &self.network.trusted_proxies)?;
        match self.mail.transport.as_str() {
            "file" | "smtp" => {}
            other => {
                return Err(ConfigError::new(
                    "mail.transport",
                    format!("{other:?} is neither \"file\" nor \"smtp\""),
                ));
            }
        }
        let p = &self.passwords;
        let argon2 = Argon2Params {
            memory_kib: p.argon2_memory_kib,
            iterations: p.argon2_iterations,
            parallelism: p.argon2_parallelism,
        };
        // Below OWASP's minimum (19 MiB, t=2) a stolen database is cheap to crack.
        if argon2.memory_kib < 8 * argon2.parallelism.max(1)
            || argon2.iterations == 0
            || argon2.parallelism == 0
        {
            return Err(ConfigError::new(
                "passwords",
                "argon2 parameters are out of range",
            ));
        }
        let t = &self.tokens;
        for (key, value, max) in [
            ("tokens.code_ttl", t.code_ttl, 600),
            ("tokens.access_token_ttl", t.access_token_ttl, 86_400),
            ("tokens.id_token_ttl", t.id_token_ttl, 86_400),
            (
                "tokens.refresh_token_ttl",
                t.refresh_token_ttl,
                400 * 86_400,
            ),
            ("tokens.refresh_idle_ttl", t.refresh_idle_ttl, 400 * 86_400),
            ("tokens.session_ttl", t.session_ttl, 30 * 86_400),
            ("tokens.login_flow_ttl", t.login_flow_ttl, 86_400),
            ("tokens.dpop_max_skew", t.dpop_max_skew, 600),
        ] {
            if !(1..=max).contains(&value) {
                return Err(ConfigError::new(
                    key,
                    format!("{value} is outside 1..={max} seconds"),
                ));
            }
        }
        let outbound_allowed =
            parse_cidrs("outbound.allowed_networks", &self.outbound.allowed_networks)?;
        for (key, value) in [
            (
                "limits.open_flows_per_address",
                self.limits.open_flows_per_address,
            ),
            (
                "limits.pushed_requests_per_address",
                self.limits.pushed_requests_per_address,
            ),
        ] {
            if !(1..=1_000_000).contains(&value) {
                return Err(ConfigError::new(
                    key,
                    format!("{value} is outside 1..=1000000"),
                ));
            }
        }
        if self.limits.rate_per_second > 0 && self.limits.rate_burst == 0 {
            return Err(ConfigError::new("limits.rate_burst", "must be at least 1"));
        }
        let base = self.issuer.trim_end_matches('/').to_string();
        Ok(Validated {
            outbound_allowed,
            secure_cookies: issuer.scheme() == "https",
            issuer: self.issuer.clone(),
            base,
            listen,
            database,
            zones: NetworkZones::new(campus, vpn),
            trusted_proxies,
            argon2,
        })
    }
}

/// `NETWORK_TRUSTED_PROXIES` → `network.trusted_proxies`; `DATABASE_URL` → `database_url`.
fn env_key(key: &str) -> String {
    let key = key.to_ascii_lowercase();
    for section in SECTIONS {
        if let Some(rest) = key.strip_prefix(section).and_then(|r| r.strip_prefix('_')) {
            return format!("{section}.{rest}");
        }
    }
    key
}

fn parse_issuer(raw: &str) -> Result<Url, ConfigError> {
    let err = |problem: &str| ConfigError::new("issuer", format!("{raw:?} {problem}"));
    let url = Url::parse(raw).map_err(|_| err("is not an absolute URL"))?;
    if url.scheme() != "https" && url.scheme() != "http" {
        return Err(err("must be an http or https URL"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(err(
            "must not have a query or fragment (OpenID Connect Discovery 1.0 §2)",
        ));
    }
    if url.scheme() == "http" && !crate::domain::client::is_loopback_host(&url) {
        return Err(err("must be https unless it is a loopback address"));
    }
    Ok(url)
}

fn parse_database_url(raw: &str) -> Result<DatabaseUrl, ConfigError> {
    if let Some(path) = raw.strip_prefix("sqlite://") {
        if path.is_empty() {
            return Err(ConfigError::new(
                "database_url",
                "sqlite:// needs a file path",
            ));
        }
        return Ok(DatabaseUrl::Sqlite(PathBuf::from(path)));
    }
    if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
        return Ok(DatabaseUrl::Postgres(raw.to_string()));
    }
    Err(ConfigError::new(
        "database_url",
        "must start with sqlite:// or postgres://",
    ))
}

fn parse_cidrs(key: &str, values: &[String]) -> Result<Vec<IpNet>, ConfigError> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let v = v.trim();
            // A bare address is a one-host network.
            v.parse::<IpNet>()
                .or_else(|_| v.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    ConfigError::new(format!("{key}[{i}]"), format!("{v:?} is not a CIDR range"))
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_keys_map_to_sections_or_top_level() {
        assert_eq!(env_key("DATABASE_URL"), "database_url");
        assert_eq!(
            env_key("NETWORK_TRUSTED_PROXIES"),
            "network.trusted_proxies"
        );
        assert_eq!(env_key("MAIL_SMTP_URL"), "mail.smtp_url");
        assert_eq!(env_key("KEYS_DIR"), "keys_dir");
    }

    #[test]
    fn embedded_defaults_are_valid() {
        let v = Settings::default().validate().expect("defaults validate");
        assert_eq!(v.base, "http://127.0.0.1:8080");
        assert!(!v.secure_cookies);
    }

    #[test]
    fn bad_values_name_their_key() {
        type Mutation = fn(&mut Settings);
        let cases: Vec<(Mutation, &str)> = vec![
            (
                |s| s.network.campus = vec!["300.1.2.3/8".into()],
                "network.campus[0]",
            ),
            (
                |s| s.network.trusted_proxies = vec!["nope".into()],
                "network.trusted_proxies[0]",
            ),
            (|s| s.issuer = "idp.example".into(), "issuer"),
            (|s| s.throttle.ipv4_prefix = 33, "throttle.ipv4_prefix"),
            (|s| s.throttle.ipv6_prefix = 129, "throttle.ipv6_prefix"),
            (|s| s.issuer = "http://idp.example.ac.jp".into(), "issuer"),
            (
                |s| s.issuer = "https://idp.example.ac.jp/?x=1".into(),
                "issuer",
            ),
            (|s| s.database_url = "mysql://x".into(), "database_url"),
            (|s| s.listen = "localhost".into(), "listen"),
            (|s| s.tokens.code_ttl = 0, "tokens.code_ttl"),
            (|s| s.mail.transport = "pigeon".into(), "mail.transport"),
        ];
        for (mutate, key) in cases {
            let mut s = Settings::default();
            mutate(&mut s);
            let err = s.validate().expect_err(key);
            assert_eq!(err.key, key, "{err}");
            assert!(
                err.to_string().starts_with("configuration error: "),
                "{err}"
            );
        }
    }

    #[test]
    fn https_issuer_turns_on_secure_cookies() {
        let s = Settings {
            issuer: "https://idp.uec.ac.jp".into(),
            ..Settings::default()
        };
        assert!(s.validate().expect("valid").secure_cookies);
    }
}
