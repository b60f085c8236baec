//! UEC accounts: the ID form, affiliations, and what makes an account usable.

use std::fmt;

use crate::domain::compliance::ComplianceRecord;

/// A UEC account ID. Canonical form `^[a-z][0-9]{7}$` (the first letter of the romanised
/// name, then the student number or the staff-card number without its last digit). The
/// ITC allows exceptions, so [`AccountId::parse_nonstandard`] admits other lower-case IDs
/// when an operator asks for it explicitly.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AccountId(String);

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum AccountIdError {
    #[error("{0:?} is not a UEC account ID (one lower-case letter and 7 digits, e.g. a1830000)")]
    NotCanonical(String),
    #[error("{0:?} is not a usable account ID (1-32 characters of a-z, 0-9, '.', '-', '_')")]
    Invalid(String),
}

impl AccountId {
    pub fn parse(raw: &str) -> Result<Self, AccountIdError> {
        let b = raw.as_bytes();
        if b.len() == 8 && b[0].is_ascii_lowercase() && b[1..].iter().all(u8::is_ascii_digit) {
            Ok(Self(raw.to_string()))
        } else {
            Err(AccountIdError::NotCanonical(raw.to_string()))
        }
    }

    /// An ID outside the canonical form, issued deliberately by an operator.
    pub fn parse_nonstandard(raw: &str) -> Result<Self, AccountIdError> {
        let ok = (1..=32).contains(&raw.len())
            && raw.starts_with(|c: char| c.is_ascii_lowercase())
            && raw
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b".-_".contains(&c));
        if ok {
            Ok(Self(raw.to_string()))
        } else {
            Err(AccountIdError::Invalid(raw.to_string()))
        }
    }

    /// What a person typed into the login form, normalised: IDs are lower case.
    pub fn from_login_input(raw: &str) -> Option<Self> {
        let id = raw.trim().to_ascii_lowercase();
        Self::parse_nonstandard(&id).ok()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who the account belongs to; decides grace periods and which relying parties admit it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Affiliation {
    Student,
    Graduate,
    Faculty,
    Staff,
    NonDegree,
    LimitedTermStaff,
}

impl Affiliation {
    pub const ALL: [Affiliation; 6] = [
        Self::Student,
        Self::Graduate,
        Self::Faculty,
        Self::Staff,
        Self::NonDegree,
        Self::LimitedTermStaff,
    ];

    /// The names used on the command line, in the database and in the `affiliation` claim.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Student => "student",
            Self::Graduate => "graduate",
            Self::Faculty => "faculty",
            Self::Staff => "staff",
            Self::NonDegree => "nondegree",
            Self::LimitedTermStaff => "limited_staff",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == raw)
    }

    pub fn names() -> String {
        Self::ALL.map(Self::as_str).join("|")
    }

    /// Faculty and staff (including limited-term staff) hold staff accounts.
    pub fn is_staff(self) -> bool {
        matches!(self, Self::Faculty | Self::Staff | Self::LimitedTermStaff)
    }
}

/// Whether an account can sign in at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountStatus {
    Active,
    /// Deleted after its grace period: a tombstone that keeps the ID and `sub` from reuse.
    Deleted,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Deleted => "deleted",
        }
    }

    pub fn parse(raw: &str) -> Self {
        // Anything unexpected is treated as unusable: fail closed.
        if raw == "active" {
            Self::Active
        } else {
            Self::Deleted
        }
    }
}

/// An account as the rest of the provider sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub id: AccountId,
    pub sub: String,
    pub name: String,
    pub affiliation: Affiliation,
    pub personal_email: Option<String>,
    pub email_alias: Option<String>,
    /// End date (graduation, retirement) as Unix seconds; `None` = open-ended.
    pub valid_until: Option<i64>,
    pub status: AccountStatus,
    /// Issue time; also the activation that starts the compliance period.
    pub created_at: i64,
    /// The account this one succeeds after a progression (student -> graduate, ...).
    pub previous_account_id: Option<AccountId>,
    pub pledge_completed_at: Option<i64>,
    pub infoss_completed_at: Option<i64>,
}

impl Account {
    /// The `email` claim: the `@uec.ac.jp` alias if set, else the campus mailbox.
    pub fn email(&self, mailbox_domain: &str) -> String {
        match &self.email_alias {
            Some(alias) => alias.clone(),
            None => format!("{}@{}", self.id, mailbox_domain),
        }
    }

    /// What the compliance rules need to know about this account.
    pub fn compliance(&self) -> ComplianceRecord {
        ComplianceRecord {
            activated_at: self.created_at,
            pledge_completed_at: self.pledge_completed_at,
            infoss_completed_at: self.infoss_completed_at,
        }
    }

    pub fn can_sign_in(&self) -> bool {
        self.status == AccountStatus::Active
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_ids_are_one_letter_and_seven_digits() {
        for ok in ["a1830000", "a1410000", "z0000000"] {
            assert!(AccountId::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "A1830000",
            "a183000",
            "a18300000",
            "ab830000",
            "1a830000",
            "",
            "a183000x",
        ] {
            assert!(AccountId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn nonstandard_ids_are_allowed_only_in_a_safe_alphabet() {
        assert!(AccountId::parse_nonstandard("itc-admin").is_ok());
        for bad in ["", "Admin", "a b", "a/b", "-x", &"a".repeat(33)] {
            assert!(AccountId::parse_nonstandard(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn login_input_is_trimmed_and_lower_cased() {
        assert_eq!(
            AccountId::from_login_input(" A1830000 ").map(|a| a.to_string()),
            Some("a1830000".into())
        );
        assert_eq!(AccountId::from_login_input("a b"), None);
    }

    #[test]
    fn affiliation_names_round_trip() {
        for a in Affiliation::ALL {
            assert_eq!(Affiliation::parse(a.as_str()), Some(a));
        }
        assert_eq!(Affiliation::parse("professor"), None);
    }
}
