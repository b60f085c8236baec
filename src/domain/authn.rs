//! Authentication strength: what the network zone and the relying party demand, and the
//! `acr`/`amr` values (RFC 8176) that say what really happened.
//!
//! Off campus every sign-in needs a second factor; on the campus network or the VPN the
//! password suffices unless the relying party asks for more (`acr_values` naming the
//! multi-factor class, or its "always require a second factor" setting).

use crate::domain::network_zone::Zone;

/// Authentication context class: a password alone (permitted on campus and VPN).
pub const ACR_PASSWORD: &str = "urn:uec:idp:acr:pwd";
/// Authentication context class: password plus a second factor, or a verified passkey.
pub const ACR_MFA: &str = "urn:uec:idp:acr:mfa";

pub const AMR_PASSWORD: &str = "pwd";
pub const AMR_MFA: &str = "mfa";

/// A second factor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecondFactor {
    Totp,
    EmailCode,
    BackupCode,
    Passkey,
}

impl SecondFactor {
    /// RFC 8176: one-time codes of every kind are `otp`; a passkey is a hardware-bound
    /// (or platform) key, `hwk`.
    pub fn amr(self) -> &'static str {
        match self {
            Self::Totp | Self::EmailCode | Self::BackupCode => "otp",
            Self::Passkey => "hwk",
        }
    }

    /// The name used in the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Totp => "totp",
            Self::EmailCode => "email_code",
            Self::BackupCode => "backup_code",
            Self::Passkey => "passkey",
        }
    }
}

/// Whether this sign-in needs a second factor.
pub fn second_factor_required(
    zone: Zone,
    acr_values: &[String],
    client_requires_mfa: bool,
) -> bool {
    !zone.is_trusted_network() || client_requires_mfa || asks_for_mfa(acr_values)
}

/// `acr_values` is a list of acceptable classes in order of preference (OIDC Core
/// §3.1.2.1): the password class satisfies it unless only the multi-factor class is named.
fn asks_for_mfa(acr_values: &[String]) -> bool {
    acr_values.iter().any(|v| v == ACR_MFA) && !acr_values.iter().any(|v| v == ACR_PASSWORD)
}

pub fn is_multi_factor(amr: &[String]) -> bool {
    amr.iter().any(|m| m == AMR_MFA)
}

/// The `amr` after adding `factor` to what was already done.
pub fn with_second_factor(amr: &[String], factor: SecondFactor) -> Vec<String> {
    let mut out: Vec<String> = amr.to_vec();
    for value in [factor.amr(), AMR_MFA] {
        if !out.iter().any(|m| m == value) {
            out.push(value.to_string());
        }
    }
    out
}

pub fn acr_for(amr: &[String]) -> &'static str {
    if is_multi_factor(amr) {
        ACR_MFA
    } else {
        ACR_PASSWORD
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_zone_and_the_relying_party_decide_whether_a_second_factor_is_due() {
        let mfa = vec![ACR_MFA.to_string()];
        let either = vec![ACR_PASSWORD.to_string(), ACR_MFA.to_string()];
        let cases = [
            (Zone::Campus, vec![], false, false),
            (Zone::Vpn, vec![], false, false),
            (Zone::OffCampus, vec![], false, true),
            (Zone::Campus, mfa.clone(), false, true),
            (Zone::Campus, either.clone(), false, false),
            (Zone::Campus, vec!["urn:other".to_string()], false, false),
            (Zone::Vpn, vec![], true, true),
            (Zone::OffCampus, either, false, true),
        ];
        for (zone, acr, client, want) in cases {
            assert_eq!(
                second_factor_required(zone, &acr, client),
                want,
                "{zone:?} {acr:?} {client}"
            );
        }
    }

    #[test]
    fn adding_a_second_factor_marks_the_sign_in_multi_factor_once() {
        let pwd = vec![AMR_PASSWORD.to_string()];
        let amr = with_second_factor(&pwd, SecondFactor::Totp);
        assert_eq!(amr, ["pwd", "otp", "mfa"]);
        assert_eq!(
            with_second_factor(&amr, SecondFactor::BackupCode),
            ["pwd", "otp", "mfa"]
        );
        assert_eq!(acr_for(&amr), ACR_MFA);
        assert_eq!(acr_for(&pwd), ACR_PASSWORD);
        assert_eq!(
            with_second_factor(&[], SecondFactor::Passkey),
            ["hwk", "mfa"]
        );
    }
}
