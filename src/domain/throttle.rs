//! The sign-in throttle: a documented, simple defence against password guessing.
//!
//! Attempts are counted per account ID (whether or not it exists, so the throttle reveals
//! nothing), or per known browser, and per client network (with a higher allowance: a
//! campus NAT puts a whole lab behind one address). The first `free_failures` within the
//! window cost nothing; after that each attempt must wait 2^(n - free) seconds since the
//! last one, up to `max_delay_secs`. A success clears its own count (the browser's or the
//! account's: see `services::throttle`).
//!
//! Attempts are *reserved* before they are judged (one conditional UPDATE that checks and
//! counts, `store::throttle::reserve`), so parallel guesses cost what sequential ones do.
//! This module says, for a count just reserved, until when the next attempt must wait
//! ([`Policy::next_allowed_at`]), and builds every key ([`Key`]) in one place.

use std::net::IpAddr;

/// How long the next attempt must still wait, or `None` if it may go ahead.
pub fn wait_secs(
    failures: i64,
    last_failure_at: i64,
    now: i64,
    free_failures: i64,
    window_secs: i64,
    max_delay_secs: i64,
) -> Option<i64> {
    if failures < free_failures || now - last_failure_at > window_secs {
        return None;
    }
    let excess = (failures - free_failures).clamp(0, 30) as u32;
    let delay = 2i64.pow(excess).min(max_delay_secs);
    let remaining = last_failure_at + delay - now;
    (remaining > 0).then_some(remaining)
}

/// How a counter limits attempts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// `free` attempts cost nothing; after that each must wait 2^(n - free) seconds since
    /// the previous one, at most `max_delay_secs`. Counts older than `window_secs` restart.
    Backoff {
        free: i64,
        window_secs: i64,
        max_delay_secs: i64,
    },
    /// At most `limit` attempts within `window_secs` of the last one.
    Cap { limit: i64, window_secs: i64 },
}

impl Policy {
    pub fn window_secs(&self) -> i64 {
        match *self {
            Policy::Backoff { window_secs, .. } | Policy::Cap { window_secs, .. } => window_secs,
        }
    }

    /// With `count` attempts reserved, the last at `now`: when the next one may go ahead;
    /// 0 when at once. (Not `now`: an attempt that read the clock a moment earlier and
    /// reaches the database later must not be refused by a count that does not block.)
    pub fn next_allowed_at(&self, count: i64, now: i64) -> i64 {
        match *self {
            Policy::Backoff {
                free,
                window_secs,
                max_delay_secs,
            } => match wait_secs(count, now, now, free, window_secs, max_delay_secs) {
                Some(wait) => now + wait,
                None => 0,
            },
            Policy::Cap { limit, window_secs } => {
                if count < limit {
                    0
                } else {
                    now + window_secs
                }
            }
        }
    }
}

/// A throttle counter's name. Every key is built here, so two places cannot spell one
/// counter differently (or two counters alike).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Key(String);

/// Longer typed IDs are stored hashed (see [`Key::account`]); UEC IDs have 8 characters,
/// and an operator's non-standard IDs stay far below this.
const MAX_TYPED_ID: usize = 64;

/// `:id` for a typed ID as typed (trimmed, lower case), `#hash` for one too long to keep.
fn typed(typed_id: &str) -> String {
    let id = typed_id.trim().to_ascii_lowercase();
    if id.len() > MAX_TYPED_ID {
        return format!("#{}", crate::secrets::sha256_b64(id.as_bytes()));
    }
    format!(":{id}")
}

impl Key {
    /// Password attempts at an account ID (typed, existing or not) from unknown browsers.
    /// A typed ID longer than any real one (a form field of many kilobytes) is kept as its
    /// hash, so a failed attempt stores a bounded key whatever was typed.
    pub fn account(typed_id: &str) -> Key {
        Key(format!("account{}", typed(typed_id)))
    }

    /// Password attempts at an account from one known browser (its device token's id).
    pub fn device(device_id: &str) -> Key {
        Key(format!("device:{device_id}"))
    }

    /// Attempts from one client network: the address cut to its prefix (see [`Prefixes`]).
    pub fn address(ip: IpAddr, prefixes: Prefixes) -> Key {
        Key(format!("address:{}", prefixes.network(ip)))
    }

    /// Wrong current passwords on the change page (a signed-in session's guesses).
    pub fn password_change(account_id: &str) -> Key {
        Key(format!("password_change:{account_id}"))
    }

    /// Second-factor attempts of an account, every kind of code and passkey together.
    pub fn second_factor(account_id: &str) -> Key {
        Key(format!("second_factor:{account_id}"))
    }

    /// Second-factor attempts within one sign-in flow.
    pub fn flow(flow_id: &str) -> Key {
        Key(format!("flow:{flow_id}"))
    }

    /// Online reissue requests for an account ID (typed, existing or not).
    pub fn reissue_account(typed_id: &str) -> Key {
        Key(format!("reissue:account{}", typed(typed_id)))
    }

    /// Online reissue requests from one client network.
    pub fn reissue_address(ip: IpAddr, prefixes: Prefixes) -> Key {
        Key(format!("reissue:address:{}", prefixes.network(ip)))
    }

    /// Password-update keys entered from one client network.
    pub fn reissue_key_address(ip: IpAddr, prefixes: Prefixes) -> Key {
        Key(format!("reissue-key:address:{}", prefixes.network(ip)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How much of a client address names "one client" for the address counters: IPv4 /32
/// and IPv6 /64 by default (a /64 is one home or one LAN: its host bits are the client's
/// to choose, so counting each /128 would give every guess a fresh allowance).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prefixes {
    pub ipv4: u8,
    pub ipv6: u8,
}

impl Default for Prefixes {
    fn default() -> Self {
        Prefixes { ipv4: 32, ipv6: 64 }
    }
}

impl Prefixes {
    /// `ip` with the host bits cleared, written as `network/len`.
    pub fn network(&self, ip: IpAddr) -> String {
        match ip {
            IpAddr::V4(v4) => {
                let len = self.ipv4.min(32);
                let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
                let net = std::net::Ipv4Addr::from(u32::from(v4) & mask);
                format!("{net}/{len}")
            }
            IpAddr::V6(v6) => {
                let len = self.ipv6.min(128);
                let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
                let net = std::net::Ipv6Addr::from(u128::from(v6) & mask);
                format!("{net}/{len}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typed_id_is_kept_as_typed_up_to_a_bound_then_hashed() {
        assert_eq!(Key::account(" A1830000 ").as_str(), "account:a1830000");
        let huge = "x".repeat(16 * 1024);
        let key = Key::account(&huge);
        assert!(key.as_str().len() < 100, "{} bytes", key.as_str().len());
        assert_eq!(
            key,
            Key::account(&huge.to_uppercase()),
            "the same ID, the same key"
        );
        assert_ne!(key, Key::account(&"y".repeat(16 * 1024)));
        assert!(Key::reissue_account(&huge).as_str().len() < 100);
        assert_eq!(
            Key::reissue_account("A1830000").as_str(),
            "reissue:account:a1830000"
        );
    }

    #[test]
    fn addresses_are_cut_to_their_prefix() {
        let p = Prefixes::default();
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:ffff:1:2:3".parse().expect("ip");
        let c: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        assert_eq!(Key::address(a, p), Key::address(b, p));
        assert_ne!(Key::address(a, p), Key::address(c, p));
        assert_eq!(Key::address(a, p).as_str(), "address:2001:db8:1:2::/64");
        let v4: IpAddr = "203.0.113.7".parse().expect("ip");
        assert_eq!(Key::address(v4, p).as_str(), "address:203.0.113.7/32");
        let wide = Prefixes { ipv4: 24, ipv6: 0 };
        assert_eq!(Key::address(v4, wide).as_str(), "address:203.0.113.0/24");
        assert_eq!(Key::address(a, wide).as_str(), "address:::/0");
    }

    #[test]
    fn the_next_attempt_waits_as_the_sequential_schedule_says() {
        let backoff = Policy::Backoff {
            free: 5,
            window_secs: 900,
            max_delay_secs: 900,
        };
        assert_eq!(backoff.next_allowed_at(4, 1000), 0);
        assert_eq!(backoff.next_allowed_at(5, 1000), 1001);
        assert_eq!(backoff.next_allowed_at(7, 1000), 1004);
        assert_eq!(backoff.next_allowed_at(40, 1000), 1900);
        let cap = Policy::Cap {
            limit: 5,
            window_secs: 900,
        };
        assert_eq!(cap.next_allowed_at(4, 1000), 0);
        assert_eq!(cap.next_allowed_at(5, 1000), 1900);
    }

    #[test]
    fn free_failures_cost_nothing_then_waits_double() {
        // (failures, seconds since last failure, expected wait)
        let cases = [
            (0, 0, None),
            (4, 0, None),
            (5, 0, Some(1)),
            (6, 0, Some(2)),
            (6, 1, Some(1)),
            (6, 2, None),
            (10, 0, Some(32)),
            (40, 0, Some(900)),
            (40, 901, None),
        ];
        for (failures, ago, want) in cases {
            assert_eq!(
                wait_secs(failures, 1000, 1000 + ago, 5, 900, 900),
                want,
                "{failures} failures, {ago}s ago"
            );
        }
    }
}
