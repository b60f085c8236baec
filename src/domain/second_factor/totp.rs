//! Authenticator apps: TOTP (RFC 6238) with the parameters every app understands: HMAC-SHA-1,
//! 6 digits, 30-second steps. A code from one step either side of now is accepted (clock
//! skew), and a step is accepted at most once: `verify` returns the step it matched, the
//! caller stores it, and codes from that step or earlier are refused afterwards.

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use qrcode::QrCode;
use qrcode::render::svg;
use totp_rs::{Builder, Secret, Totp};

use crate::secrets::{constant_time_eq, random_bytes};

pub const STEP_SECS: i64 = 30;
pub const DIGITS: usize = 6;
/// Steps either side of now that are still accepted.
const SKEW_STEPS: i64 = 1;

/// A fresh 160-bit seed (RFC 4226 recommends 160 bits).
pub fn generate_secret() -> Vec<u8> {
    random_bytes::<20>().to_vec()
}

/// The seed as people type it: unpadded RFC 4648 base32.
pub fn secret_base32(secret: &[u8]) -> String {
    Secret::from(secret).to_base32()
}

/// The `otpauth://` URI authenticator apps import (Key Uri Format).
pub fn otpauth_uri(secret: &[u8], account: &str, issuer: &str) -> String {
    let enc = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
        enc(issuer),
        enc(account),
        secret_base32(secret),
        enc(issuer),
    )
}

/// The URI as a QR code, an inline SVG document (empty if the URI cannot be encoded, which
/// only a URI far longer than ours could cause; the page still shows the URI and secret).
pub fn qr_svg(uri: &str) -> String {
    QrCode::new(uri.as_bytes())
        .map(|code| {
            code.render::<svg::Color>()
                .min_dimensions(200, 200)
                .quiet_zone(true)
                .build()
        })
        .unwrap_or_default()
}

fn totp(secret: &[u8]) -> Totp {
    // SHA-1, 6 digits and 30 s are the builder's defaults; the seed length is ours.
    Builder::new().with_secret(secret).build_noncompliant()
}

fn code_for_step(t: &Totp, step: i64) -> String {
    t.generate((step.max(0) * STEP_SECS) as u64).to_string()
}

/// The code for unix time `now` (what an authenticator app shows; used by tests).
pub fn code_at(secret: &[u8], now: i64) -> String {
    code_for_step(&totp(secret), now.div_euclid(STEP_SECS))
}

/// If `code` is right for a step within the skew window and after `last_step`, that step.
pub fn verify(secret: &[u8], code: &str, now: i64, last_step: i64) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let t = totp(secret);
    let current = now.div_euclid(STEP_SECS);
    (current - SKEW_STEPS..=current + SKEW_STEPS)
        .filter(|step| *step > last_step)
        .find(|step| constant_time_eq(&code_for_step(&t, *step), &code))
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 6238 appendix B, SHA-1 seed "12345678901234567890" (last 6 of the 8-digit values).
    const SEED: &[u8] = b"12345678901234567890";

    #[test]
    fn matches_the_rfc_6238_test_vectors() {
        for (time, code) in [
            (59, "287082"),
            (1111111109, "081804"),
            (1234567890, "005924"),
            (2000000000, "279037"),
        ] {
            assert_eq!(code_at(SEED, time), code, "t={time}");
        }
    }

    #[test]
    fn accepts_one_step_of_skew_either_way_and_no_more() {
        let now = 1_700_000_000;
        let step = now / STEP_SECS;
        for delta in [-1, 0, 1] {
            let code = code_at(SEED, now + delta * STEP_SECS);
            assert_eq!(verify(SEED, &code, now, 0), Some(step + delta));
        }
        for delta in [-2, 2] {
            assert_eq!(
                verify(SEED, &code_at(SEED, now + delta * STEP_SECS), now, 0),
                None
            );
        }
    }

    #[test]
    fn a_step_is_accepted_once() {
        let now = 1_700_000_000;
        let code = code_at(SEED, now);
        let step = verify(SEED, &code, now, 0).unwrap();
        assert_eq!(verify(SEED, &code, now, step), None);
        // Nor an older code after a newer one was used.
        let older = code_at(SEED, now - STEP_SECS);
        assert_eq!(verify(SEED, &older, now, step), None);
    }

    #[test]
    fn malformed_codes_are_refused() {
        for bad in ["", "12345", "1234567", "abcdef", "１２３４５６"] {
            assert_eq!(verify(SEED, bad, 1_700_000_000, 0), None, "{bad}");
        }
        let code = code_at(SEED, 1_700_000_000);
        let spaced = format!("{} {}", &code[..3], &code[3..]);
        assert!(verify(SEED, &spaced, 1_700_000_000, 0).is_some());
    }

    #[test]
    fn uri_carries_secret_issuer_and_parameters() {
        let uri = otpauth_uri(SEED, "a2010001", "UEC IdP");
        assert!(
            uri.starts_with("otpauth://totp/UEC%20IdP:a2010001?secret="),
            "{uri}"
        );
        assert!(uri.contains(&format!("secret={}", secret_base32(SEED))));
        assert!(uri.contains("&issuer=UEC%20IdP&algorithm=SHA1&digits=6&period=30"));
        assert_eq!(secret_base32(SEED), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        let svg = qr_svg(&uri);
        assert!(svg.contains("<svg") && svg.contains("</svg>"));
    }
}
