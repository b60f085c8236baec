//! Password reissue rules (DOMAIN.md "Passwords"): online with a password-update key sent
//! to the registered reissue e-mail, or at the ITC desk with a temporary password.

use crate::secrets::{self, random_bytes};

/// How long a password-update key works.
pub const KEY_TTL_SECS: i64 = 1800;
/// Wrong keys before a pending reissue is void (the person starts again).
pub const MAX_ATTEMPTS: i64 = 5;
/// Digits in a password-update key.
pub const KEY_DIGITS: usize = 8;
/// A temporary password from the desk lasts this many days, or fewer if the operator says.
pub const DESK_MAX_DAYS: i64 = 30;

/// Reissue requests allowed per typed account ID within [`REQUEST_WINDOW_SECS`] (counted
/// whether or not the account exists, so the limit reveals nothing).
pub const ACCOUNT_REQUESTS: i64 = 5;
/// Reissue requests allowed per client address within the window (a campus NAT puts a
/// lab behind one address).
pub const ADDRESS_REQUESTS: i64 = 30;
/// The window restarts once this long has passed without a request.
pub const REQUEST_WINDOW_SECS: i64 = 900;

/// Eight uniformly random digits.
pub fn generate_key() -> String {
    let n = u64::from_le_bytes(random_bytes::<8>()) % 100_000_000;
    format!("{n:08}")
}

/// The key someone typed (spaces and hyphens ignored), or `None` if it is not eight digits.
pub fn normalize_key(input: &str) -> Option<String> {
    let key: String = input
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    (key.len() == KEY_DIGITS && key.bytes().all(|b| b.is_ascii_digit())).then_some(key)
}

/// The comparable form of an address: the local part exactly as given, the domain in lower
/// case (domains are case-insensitive, local parts may not be).
fn canonical_address(address: &str) -> Option<String> {
    let (local, domain) = address.trim().rsplit_once('@')?;
    if local.is_empty() || domain.is_empty() {
        return None;
    }
    Some(format!(
        "{local}@{}",
        domain.trim_end_matches('.').to_ascii_lowercase()
    ))
}

/// Whether `typed` is the registered reissue address. The canonical forms are compared as
/// SHA-256 digests in constant time, so the comparison takes the same time wherever they
/// differ.
pub fn same_address(registered: &str, typed: &str) -> bool {
    let (Some(registered), Some(typed)) = (canonical_address(registered), canonical_address(typed))
    else {
        return false;
    };
    secrets::constant_time_eq(
        &secrets::sha256_b64(registered.as_bytes()),
        &secrets::sha256_b64(typed.as_bytes()),
    )
}

/// How long a new request must still wait, if `count` requests were made, the last at
/// `last_at`; `None` if it may go ahead. A fixed allowance per window, not a doubling delay:
/// a person rarely asks twice, and a script is stopped for the rest of the window.
pub fn request_wait_secs(
    count: i64,
    last_at: i64,
    now: i64,
    limit: i64,
    window_secs: i64,
) -> Option<i64> {
    if count < limit || now - last_at > window_secs {
        return None;
    }
    Some((last_at + window_secs - now).max(1))
}

/// How many days a desk-issued temporary password lasts: 30 unless the operator gives a
/// shorter period; longer is refused.
pub fn desk_days(requested: Option<i64>) -> Result<i64, String> {
    match requested {
        None => Ok(DESK_MAX_DAYS),
        Some(d) if (1..=DESK_MAX_DAYS).contains(&d) => Ok(d),
        Some(d) => Err(format!(
            "--expires-in: {d} days is out of range; a temporary password lasts 1 to {DESK_MAX_DAYS} days"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_eight_digits() {
        for _ in 0..100 {
            let k = generate_key();
            assert_eq!(normalize_key(&k).as_deref(), Some(k.as_str()));
        }
        assert_eq!(normalize_key(" 1234-5678 ").as_deref(), Some("12345678"));
        for bad in ["1234567", "123456789", "1234567a", ""] {
            assert_eq!(normalize_key(bad), None, "{bad}");
        }
    }

    #[test]
    fn addresses_match_on_the_exact_local_part_and_any_case_domain() {
        assert!(same_address("Taro@Example.COM", "Taro@example.com"));
        assert!(same_address("taro@example.com", " taro@example.com. "));
        assert!(!same_address("Taro@example.com", "taro@example.com"));
        assert!(!same_address("taro@example.com", "taro@example.org"));
        assert!(!same_address("taro@example.com", "taro"));
        assert!(!same_address("taro@example.com", ""));
    }

    #[test]
    fn requests_are_limited_per_window() {
        assert_eq!(request_wait_secs(4, 1000, 1000, 5, 900), None);
        assert_eq!(request_wait_secs(5, 1000, 1000, 5, 900), Some(900));
        assert_eq!(request_wait_secs(5, 1000, 1899, 5, 900), Some(1));
        assert_eq!(request_wait_secs(5, 1000, 1901, 5, 900), None);
    }

    #[test]
    fn desk_passwords_last_thirty_days_or_less() {
        assert_eq!(desk_days(None), Ok(30));
        assert_eq!(desk_days(Some(7)), Ok(7));
        assert_eq!(desk_days(Some(30)), Ok(30));
        for bad in [0, -1, 31, 40] {
            assert!(desk_days(Some(bad)).is_err(), "{bad}");
        }
    }
}
