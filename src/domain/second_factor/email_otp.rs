//! One-time codes by e-mail: six digits, valid ten minutes, single use, a few attempts.
//! Codes must not go to a university mailbox (DOMAIN.md: e-l.cc and gmail-du.cc mailboxes
//! vanish with the account, and the deny-list is configuration).

use crate::secrets::random_bytes;

pub const CODE_TTL_SECS: i64 = 600;
/// Wrong guesses before a code is void (a new one must be sent).
pub const MAX_ATTEMPTS: i64 = 5;
/// A new code is sent at most once a minute per account.
pub const RESEND_AFTER_SECS: i64 = 60;

pub fn default_denied_domains() -> Vec<String> {
    vec!["e-l.cc.uec.ac.jp".into(), "gmail-du.cc.uec.ac.jp".into()]
}

/// Six uniformly random digits.
pub fn generate_code() -> String {
    let n = u64::from_le_bytes(random_bytes::<8>()) % 1_000_000;
    format!("{n:06}")
}

/// The six digits someone typed (spaces ignored), or `None` if it is not six digits.
pub fn normalize(input: &str) -> Option<String> {
    let code: String = input.chars().filter(|c| !c.is_whitespace()).collect();
    (code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit())).then_some(code)
}

/// Whether `address` looks like a deliverable address outside the denied domains
/// (compared case-insensitively; a subdomain of a denied domain is denied too).
pub fn is_allowed_destination(address: &str, denied_domains: &[String]) -> bool {
    let address = address.trim();
    let Some((local, domain)) = address.rsplit_once('@') else {
        return false;
    };
    if local.is_empty()
        || !domain.contains('.')
        || address.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return false;
    }
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    !denied_domains.iter().any(|denied| {
        let denied = denied.trim_start_matches('@').to_ascii_lowercase();
        domain == denied || domain.ends_with(&format!(".{denied}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits() {
        for _ in 0..100 {
            let c = generate_code();
            assert_eq!(normalize(&c).as_deref(), Some(c.as_str()));
        }
        assert_eq!(normalize(" 123 456 ").as_deref(), Some("123456"));
        for bad in ["12345", "1234567", "12a456", ""] {
            assert_eq!(normalize(bad), None);
        }
    }

    #[test]
    fn university_mailboxes_are_denied() {
        let denied = default_denied_domains();
        for ok in ["someone@gmail.com", "x@example.ac.jp", "a@uec.ac.jp"] {
            assert!(is_allowed_destination(ok, &denied), "{ok}");
        }
        for bad in [
            "a2010001@e-l.cc.uec.ac.jp",
            "A2010001@GMAIL-DU.CC.UEC.AC.JP",
            "x@sub.e-l.cc.uec.ac.jp",
            "x@e-l.cc.uec.ac.jp.",
            "not-an-address",
            "@example.com",
            "a@localhost",
            "a b@example.com",
        ] {
            assert!(!is_allowed_destination(bad, &denied), "{bad}");
        }
    }
}
