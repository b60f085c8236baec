//! Back-channel logout (OpenID Connect Back-Channel Logout 1.0): telling every relying
//! party a session signed in to that it has ended.
//!
//! Whatever ends sessions (logout, password change or reissue, "sign out everywhere",
//! account deletion) writes the notifications into the outbox inside its own transaction
//! ([`enqueue_touched`]), so none is lost to a crash between the change and the sending.
//! The worker ([`run`]) sends them off the request path, retries with backoff, and resumes
//! after a restart from the outbox; the person's request never waits for a relying party.

use std::sync::Arc;
use std::time::Duration;

use crate::domain::client::Registrar;
use crate::oidc::keys::SigningAlg;
use crate::oidc::logout::{LogoutTokenClaims, sign_logout_token};
use crate::secrets;
use crate::services::ServiceError;
use crate::services::outbound::{self, OutboundPolicy};
use crate::startup::AppState;
use crate::store::audit::{self, AuditEvent};
use crate::store::grants::Touched;
use crate::store::logout_notifications::{self, Pending};
use crate::store::{DbConnection, StoreResult};

/// Rows a worker leases per pass.
const BATCH: i64 = 20;

/// Writes one outbox row per touched relying party (the caller's transaction); how many.
pub fn enqueue_touched(
    conn: &mut DbConnection,
    touched: &[Touched],
    reason: &str,
    now: i64,
) -> StoreResult<usize> {
    for t in touched {
        logout_notifications::enqueue(
            conn,
            &secrets::new_id(),
            &t.client_id,
            &t.sub,
            t.sid.as_deref(),
            reason,
            now,
        )?;
    }
    Ok(touched.len())
}

/// Queues notifications for everything an account's sessions and live grants reach; call
/// before they are ended, in the same transaction.
pub fn enqueue_for_account(
    conn: &mut DbConnection,
    account_id: &str,
    reason: &str,
    now: i64,
) -> StoreResult<usize> {
    let touched = crate::store::grants::touched_by_account(conn, account_id, now)?;
    enqueue_touched(conn, &touched, reason, now)
}

/// The wait before try `attempts + 1` after `attempts` failed tries: 10 s, doubling, at
/// most an hour.
pub fn retry_delay(attempts: i64) -> i64 {
    let exp = attempts.clamp(1, 20) - 1;
    (10_i64 << exp).min(3600)
}

/// Wakes the worker (after a commit that queued notifications) instead of waiting for its
/// next poll.
#[derive(Debug, Default)]
pub struct Wakeup(tokio::sync::Notify);

impl Wakeup {
    pub fn wake(&self) {
        self.0.notify_one();
    }
}

/// The delivery loop inside `serve`: a pass at start (rows left by a previous run), then
/// one whenever woken or every `logout.poll_interval_ms`.
pub async fn run(state: Arc<AppState>, wakeup: Arc<Wakeup>) {
    let http = match Clients::new(&state) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "back-channel logout worker not started");
            return;
        }
    };
    let poll = Duration::from_millis(state.settings.logout.poll_interval_ms.max(50));
    loop {
        match run_once(&state, &http).await {
            // A full batch: there may be more due right now.
            Ok(n) if n as i64 >= BATCH => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "back-channel logout pass failed"),
        }
        let _ = tokio::time::timeout(poll, wakeup.0.notified()).await;
    }
}

/// The two HTTP clients of the worker: the operator's own registrations are trusted (they
/// may sit on the campus network or loopback); every other client's URI is checked
/// (`services::outbound`), and with `outbound.check_operator_clients` the operator's too.
#[derive(Clone)]
pub struct Clients {
    trusted: reqwest::Client,
    checked: reqwest::Client,
    policy: OutboundPolicy,
    check_operator: bool,
}

impl Clients {
    pub fn new(state: &AppState) -> reqwest::Result<Clients> {
        let timeout = Duration::from_secs(state.settings.logout.request_timeout_secs.max(1));
        let policy = OutboundPolicy::from_state(state);
        Ok(Clients {
            trusted: reqwest::Client::builder()
                .timeout(timeout)
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
            checked: outbound::checked_client(&policy, timeout)?,
            policy,
            check_operator: state.settings.outbound.check_operator_clients,
        })
    }

    /// The client to use for `p`, or why its URI may not be called.
    fn for_pending(&self, p: &Pending, uri: &str) -> Result<&reqwest::Client, String> {
        if p.registered_by == Registrar::Operator.as_str() && !self.check_operator {
            return Ok(&self.trusted);
        }
        let url = url::Url::parse(uri).map_err(|_| "the URI is not absolute".to_string())?;
        outbound::check_delivery(&self.policy, &url)
            .map_err(|why| format!("refused by the outbound rules: {why}"))?;
        Ok(&self.checked)
    }
}

/// One pass: lease the due rows and try each once, concurrently (one slow relying party
/// does not hold up the others); how many were tried.
pub async fn run_once(state: &Arc<AppState>, http: &Clients) -> Result<usize, ServiceError> {
    let now = state.clock.now();
    let max = state.settings.logout.max_attempts;
    let due = state
        .db
        .write(move |conn| {
            Ok::<_, ServiceError>(logout_notifications::claim_due(conn, now, max, BATCH)?)
        })
        .await?;
    let n = due.len();
    let mut sends = tokio::task::JoinSet::new();
    for pending in due {
        let (state, http) = (state.clone(), http.clone());
        sends.spawn(async move { deliver(&state, &http, pending).await });
    }
    while let Some(result) = sends.join_next().await {
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "back-channel logout bookkeeping failed"),
            Err(e) => tracing::warn!(error = %e, "back-channel logout task failed"),
        }
    }
    Ok(n)
}

async fn deliver(state: &AppState, http: &Clients, pending: Pending) -> Result<(), ServiceError> {
    let outcome = match pending.backchannel_logout_uri.as_deref() {
        None => Err("the client no longer has a backchannel_logout_uri".to_string()),
        Some(uri) => match http.for_pending(&pending, uri) {
            Ok(client) => send(state, client, &pending, uri).await,
            Err(refused) => Err(refused),
        },
    };
    let now = state.clock.now();
    let max = state.settings.logout.max_attempts;
    let attempts = pending.attempts + 1;
    let id = pending.id.clone();
    let client_id = pending.client_id.clone();
    state
        .db
        .write(move |conn| {
            match outcome {
                Ok(()) => logout_notifications::mark_delivered(conn, &id, now)?,
                Err(error) => {
                    logout_notifications::mark_failed(
                        conn,
                        &id,
                        now + retry_delay(attempts),
                        &error,
                    )?;
                    if attempts >= max {
                        tracing::warn!(%client_id, %error, "back-channel logout given up");
                        audit::record(
                            conn,
                            AuditEvent {
                                at: now,
                                kind: "backchannel_logout_abandoned",
                                client_id: Some(&client_id),
                                detail: Some(format!(
                                    "notification {id} after {attempts} tries: {error}"
                                )),
                                ..Default::default()
                            },
                        )?;
                    }
                }
            }
            Ok::<_, ServiceError>(())
        })
        .await
}

/// Signs and POSTs one logout token; `Err` carries a description fit for the outbox row
/// (status or transport error, never the token).
async fn send(
    state: &AppState,
    http: &reqwest::Client,
    p: &Pending,
    uri: &str,
) -> Result<(), String> {
    let alg = SigningAlg::parse(&p.id_token_alg).unwrap_or(SigningAlg::RS256);
    let claims = LogoutTokenClaims::new(
        &state.cfg.issuer,
        &p.client_id,
        &p.id,
        &p.sub,
        p.sid.as_deref(),
        state.clock.now(),
    );
    let token = sign_logout_token(&state.keys(), alg, &claims).map_err(|e| e.to_string())?;
    let response = http
        .post(uri)
        .form(&[("logout_token", token.as_str())])
        .send()
        .await
        .map_err(|e| format!("request failed: {}", without_url(&e)))?;
    match response.status().as_u16() {
        200 | 204 => Ok(()),
        status => Err(format!("the relying party answered {status}")),
    }
}

/// A reqwest error's text without its URL (a back-channel URI may carry a query secret).
fn without_url(e: &reqwest::Error) -> String {
    if let Some(why) = outbound::refused_by_rules(e) {
        return format!("refused by the outbound rules: the name {why}");
    }
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "transport error"
    };
    kind.to_string()
}

#[cfg(test)]
mod tests {
    use super::retry_delay;

    #[test]
    fn retries_back_off_from_ten_seconds_to_an_hour() {
        assert_eq!(retry_delay(1), 10);
        assert_eq!(retry_delay(2), 20);
        assert_eq!(retry_delay(3), 40);
        assert_eq!(retry_delay(9), 2560);
        assert_eq!(retry_delay(10), 3600);
        assert_eq!(retry_delay(50), 3600);
    }
}
