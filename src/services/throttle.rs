//! The one throttle use-case: every guessable secret (password, second factor, reissue
//! request and key) reserves its attempt here before it is judged, under the limits below.
//!
//! Reserving is atomic (`store::throttle::reserve`), and all of an attempt's limits are
//! reserved in one transaction: all are counted, or (one of them refusing) none is.
//!
//! Device tokens (OWASP "Slow down online guessing attacks with device cookies"): a
//! browser that signed in to an account gets a token, `<device id>.<HMAC>` under the
//! server secret, bound to the account (the MAC's purpose names it; the cookie does not).
//! A password attempt at that account carrying a valid token is counted on the device's
//! own counter instead of the account's, so strangers' failures, which fill the account's
//! counter, never lock the owner's known browser out; browsers without a token share the
//! account's counter.

use std::net::IpAddr;

use crate::config::Settings;
use crate::domain::reissue as reissue_rules;
use crate::domain::throttle::{Key, Policy, Prefixes};
use crate::secrets;
use crate::server_secret::ServerSecret;
use crate::services::ServiceError;
use crate::store::throttle::{self as store, Reservation};
use crate::store::{Db, DbConnection, StoreError, write_tx};

/// Second-factor attempts allowed within one sign-in flow (then the flow is spent: start
/// again from the application).
pub const FLOW_SECOND_FACTOR_ATTEMPTS: i64 = 10;

/// One counter and how it limits.
#[derive(Clone, Debug)]
pub struct Limit {
    pub key: Key,
    pub policy: Policy,
}

/// The limits of every kind of attempt, from the settings.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    account_free: i64,
    address_free: i64,
    window_secs: i64,
    max_delay_secs: i64,
    flow_ttl: i64,
    prefixes: Prefixes,
}

impl Limits {
    pub fn new(settings: &Settings) -> Limits {
        let t = &settings.throttle;
        Limits {
            account_free: t.account_free_failures,
            address_free: t.address_free_failures,
            window_secs: t.window_secs,
            max_delay_secs: t.max_delay_secs,
            flow_ttl: settings.tokens.login_flow_ttl,
            prefixes: Prefixes {
                ipv4: t.ipv4_prefix,
                ipv6: t.ipv6_prefix,
            },
        }
    }

    fn backoff(&self, free: i64) -> Policy {
        Policy::Backoff {
            free,
            window_secs: self.window_secs,
            max_delay_secs: self.max_delay_secs,
        }
    }

    /// Password attempts at a typed account ID from a browser without its device token.
    pub fn account(&self, typed_id: &str) -> Limit {
        Limit {
            key: Key::account(typed_id),
            policy: self.backoff(self.account_free),
        }
    }

    /// Password attempts from a browser that holds a device token for the account.
    pub fn device(&self, device_id: &str) -> Limit {
        Limit {
            key: Key::device(device_id),
            policy: self.backoff(self.account_free),
        }
    }

    /// Password attempts from a client network.
    pub fn address(&self, ip: IpAddr) -> Limit {
        Limit {
            key: Key::address(ip, self.prefixes),
            policy: self.backoff(self.address_free),
        }
    }

    /// Wrong current passwords on the change page (only a signed-in session gets there).
    pub fn password_change(&self, account_id: &str) -> Limit {
        Limit {
            key: Key::password_change(account_id),
            policy: self.backoff(self.account_free),
        }
    }

    /// The account's budget of second-factor attempts (codes and passkeys together).
    pub fn second_factor(&self, account_id: &str) -> Limit {
        Limit {
            key: Key::second_factor(account_id),
            policy: self.backoff(self.account_free),
        }
    }

    /// Second-factor attempts within one sign-in flow.
    pub fn flow(&self, flow_id: &str) -> Limit {
        Limit {
            key: Key::flow(flow_id),
            policy: Policy::Cap {
                limit: FLOW_SECOND_FACTOR_ATTEMPTS,
                window_secs: self.flow_ttl,
            },
        }
    }

    /// Online reissue requests per typed account ID.
    pub fn reissue_account(&self, typed_id: &str) -> Limit {
        Limit {
            key: Key::reissue_account(typed_id),
            policy: Policy::Cap {
                limit: reissue_rules::ACCOUNT_REQUESTS,
                window_secs: reissue_rules::REQUEST_WINDOW_SECS,
            },
        }
    }

    /// Online reissue requests per client network.
    pub fn reissue_address(&self, ip: IpAddr) -> Limit {
        Limit {
            key: Key::reissue_address(ip, self.prefixes),
            policy: Policy::Cap {
                limit: reissue_rules::ADDRESS_REQUESTS,
                window_secs: reissue_rules::REQUEST_WINDOW_SECS,
            },
        }
    }

    /// Password-update keys entered from a client network.
    pub fn reissue_key_address(&self, ip: IpAddr) -> Limit {
        Limit {
            key: Key::reissue_key_address(ip, self.prefixes),
            policy: self.backoff(self.address_free),
        }
    }
}

/// Counters idle this long have restarted under every policy (the sweep deletes them).
pub fn stale_after_secs(settings: &Settings) -> i64 {
    settings
        .throttle
        .window_secs
        .max(settings.tokens.login_flow_ttl)
        .max(reissue_rules::REQUEST_WINDOW_SECS)
}

/// Why a reservation did not go through.
enum NotReserved {
    Wait(i64),
    Store(StoreError),
}

impl From<StoreError> for NotReserved {
    fn from(e: StoreError) -> Self {
        NotReserved::Store(e)
    }
}

/// Reserves one attempt under every limit, in its own write transaction (committed before
/// the caller judges the attempt): `Err(wait_secs)` when one refuses, and then nothing is
/// counted. For callers already on a connection.
pub fn reserve_on(
    conn: &mut DbConnection,
    now: i64,
    limits: &[Limit],
) -> Result<Result<(), i64>, StoreError> {
    let reserved = write_tx(conn, |conn| {
        for limit in limits {
            if let Reservation::Wait(secs) = store::reserve(conn, &limit.key, now, limit.policy)? {
                return Err(NotReserved::Wait(secs));
            }
        }
        Ok(())
    });
    match reserved {
        Ok(()) => Ok(Ok(())),
        Err(NotReserved::Wait(secs)) => Ok(Err(secs)),
        Err(NotReserved::Store(e)) => Err(e),
    }
}

/// [`reserve_on`] on the blocking pool.
pub async fn reserve(
    db: &Db,
    now: i64,
    limits: Vec<Limit>,
) -> Result<Result<(), i64>, ServiceError> {
    db.run(move |conn| Ok::<_, ServiceError>(reserve_on(conn, now, &limits)?))
        .await
}

/// After a right answer: `clear` counters start again, `refund` counters get this
/// attempt back. Call inside the transaction that records the success.
pub fn settle(
    conn: &mut DbConnection,
    clear: &[&Limit],
    refund: &[&Limit],
) -> Result<(), StoreError> {
    for limit in clear {
        store::clear(conn, &limit.key)?;
    }
    for limit in refund {
        store::refund(conn, &limit.key)?;
    }
    Ok(())
}

fn device_purpose(account_id: &str) -> String {
    format!("device:{account_id}")
}

/// A new device token for a browser that just signed in to `account_id`.
pub fn new_device_token(secret: &ServerSecret, account_id: &str) -> String {
    let device_id = secrets::new_id();
    let mac = secret.mac(&device_purpose(account_id), &device_id);
    format!("{device_id}.{mac}")
}

/// The device id in `token` if it was issued for `account_id` (as typed: trimmed, any case).
pub fn device_for(secret: &ServerSecret, token: &str, typed_id: &str) -> Option<String> {
    let (device_id, mac) = token.split_once('.')?;
    let account_id = typed_id.trim().to_ascii_lowercase();
    let expected = secret.mac(&device_purpose(&account_id), device_id);
    secrets::constant_time_eq(&expected, mac).then(|| device_id.to_string())
}

/// The limits of a password attempt: the device's counter if the browser is known to the
/// account, else the account's; and the client network's.
pub fn password_limits(
    limits: &Limits,
    secret: &ServerSecret,
    typed_id: &str,
    device_token: Option<&str>,
    ip: IpAddr,
) -> (Limit, Limit) {
    let who = match device_token.and_then(|t| device_for(secret, t, typed_id)) {
        Some(device_id) => limits.device(&device_id),
        None => limits.account(typed_id),
    };
    (who, limits.address(ip))
}
