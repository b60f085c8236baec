//! Issuing accounts (an operator act: there is no self-registration).

use chrono::{NaiveDate, NaiveTime};

use crate::domain::account::{Account, AccountId, AccountStatus, Affiliation};
use crate::domain::password::{PasswordCredential, PasswordKind};
use crate::domain::second_factor::email_otp;
use crate::hashing::PasswordHasher;
use crate::secrets;
use crate::services::ServiceError;
use crate::store::audit::{self, AuditEvent};
use crate::store::second_factors::{self, EmailDestination};
use crate::store::{Db, StoreError, accounts, write_tx};

/// Japan Standard Time, in which end dates are read.
const JST_OFFSET_SECS: i64 = 9 * 3600;

#[derive(Debug, Default)]
pub struct NewAccount {
    pub id: String,
    /// Admit an ID outside the canonical `^[a-z][0-9]{7}$` form.
    pub allow_nonstandard_id: bool,
    pub name: String,
    pub affiliation: String,
    pub personal_email: Option<String>,
    pub password: Option<String>,
    /// `YYYY-MM-DD`: the last day of validity.
    pub valid_until: Option<String>,
}

#[derive(Debug)]
pub struct CreatedAccount {
    pub account: Account,
    /// Set when the password was generated (to be printed on the notice).
    pub generated_password: Option<String>,
    pub password_expires_at: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{0}")]
    Invalid(String),
    #[error("account {0} already exists (IDs are never reused)")]
    Duplicate(String),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// The operator's rules for issuing accounts.
#[derive(Clone, Debug)]
pub struct IssuePolicy {
    pub initial_password_days: i64,
    /// Addresses in these domains cannot receive sign-in codes.
    pub email_denied_domains: Vec<String>,
}

impl IssuePolicy {
    pub fn from_settings(settings: &crate::config::Settings) -> Self {
        Self {
            initial_password_days: settings.passwords.initial_password_days,
            email_denied_domains: settings.second_factor.email_denied_domains.clone(),
        }
    }
}

pub fn create_account(
    db: &Db,
    hasher: &PasswordHasher,
    new: NewAccount,
    now: i64,
    policy: &IssuePolicy,
) -> Result<CreatedAccount, AccountError> {
    let id = if new.allow_nonstandard_id {
        AccountId::parse_nonstandard(&new.id)
    } else {
        AccountId::parse(&new.id)
    }
    .map_err(|e| {
        AccountError::Invalid(format!(
            "--id: {e} (use --allow-nonstandard-id for an exception)"
        ))
    })?;
    let name = new.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(AccountError::Invalid(
            "--name: must be 1-200 printable characters".into(),
        ));
    }
    let affiliation = Affiliation::parse(&new.affiliation).ok_or_else(|| {
        AccountError::Invalid(format!(
            "--affiliation: must be one of {}",
            Affiliation::names()
        ))
    })?;
    let personal_email = new.personal_email.map(|e| validate_email(&e)).transpose()?;
    let valid_until = new.valid_until.as_deref().map(end_of_day_jst).transpose()?;
    let (password, generated_password) = match new.password {
        Some(p) if p.is_empty() || p.len() > 1024 => {
            return Err(AccountError::Invalid(
                "--password: must be 1-1024 bytes".into(),
            ));
        }
        Some(p) => (p, None),
        None => {
            let p = secrets::new_initial_password();
            (p.clone(), Some(p))
        }
    };
    let hash = hasher
        .hash_blocking(&password)
        .map_err(ServiceError::from)?;
    let account = Account {
        id,
        sub: uuid_like(),
        name,
        affiliation,
        personal_email,
        email_alias: None,
        valid_until,
        status: AccountStatus::Active,
        created_at: now,
    };
    let credential = PasswordCredential {
        hash,
        kind: PasswordKind::Initial,
        expires_at: Some(now + policy.initial_password_days * 86_400),
    };
    // DOMAIN.md: a notice sent to a personal e-mail makes that address the first
    // destination of sign-in codes.
    let code_destination = account
        .personal_email
        .clone()
        .filter(|e| email_otp::is_allowed_destination(e, &policy.email_denied_domains))
        .map(|address| EmailDestination {
            account_id: account.id.to_string(),
            address: Some(address),
            pending_address: None,
            updated_at: now,
        });
    let mut conn = db.conn().map_err(ServiceError::from)?;
    let inserted = write_tx(&mut conn, |conn| {
        accounts::insert_account(conn, &account, &credential, now)?;
        if let Some(destination) = &code_destination {
            second_factors::save_email_destination(conn, destination)?;
        }
        audit::record(
            conn,
            AuditEvent {
                at: now,
                kind: "account_created",
                account_id: Some(account.id.as_str()),
                ..Default::default()
            },
        )
    });
    match inserted {
        Ok(()) => {}
        Err(StoreError::Conflict) => return Err(AccountError::Duplicate(account.id.to_string())),
        Err(e) => return Err(ServiceError::from(e).into()),
    }
    Ok(CreatedAccount {
        password_expires_at: credential.expires_at.unwrap_or(i64::MAX),
        account,
        generated_password,
    })
}

pub fn find_account(db: &Db, id: &str) -> Result<Option<Account>, ServiceError> {
    Ok(accounts::find_account(&mut *db.conn()?, id)?)
}

/// An operator flags the account's password: it must be changed within `days` (the
/// owner is warned at every sign-in; past the date, sign-in leads only to the change page).
/// Returns the deadline, or `None` if there is no such account.
pub fn flag_password(db: &Db, id: &str, days: i64, now: i64) -> Result<Option<i64>, ServiceError> {
    let mut conn = db.conn()?;
    let deadline = now + days * 86_400;
    write_tx(&mut conn, |conn| {
        if accounts::find_account(conn, id)?.is_none() {
            return Ok::<_, ServiceError>(None);
        }
        accounts::flag_password(conn, id, deadline)?;
        audit::record(
            conn,
            AuditEvent {
                at: now,
                kind: "password_flagged",
                account_id: Some(id),
                detail: Some(format!("change by {deadline}")),
                ..Default::default()
            },
        )?;
        Ok(accounts::password_change_by(conn, id)?)
    })
}

pub fn list_accounts(db: &Db) -> Result<Vec<Account>, ServiceError> {
    Ok(accounts::list_accounts(&mut *db.conn()?)?)
}

/// A random subject identifier in UUID form (128 bits), never derived from the ID.
fn uuid_like() -> String {
    let b = secrets::random_bytes::<16>();
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

fn validate_email(raw: &str) -> Result<String, AccountError> {
    let e = raw.trim();
    let ok = e.len() <= 254
        && e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
        })
        && !e.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(e.to_string())
    } else {
        Err(AccountError::Invalid(format!(
            "--email: {raw:?} is not an e-mail address"
        )))
    }
}

/// The account works through the whole of its last day, Japan time.
fn end_of_day_jst(raw: &str) -> Result<i64, AccountError> {
    let date = NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| {
        AccountError::Invalid(format!("--valid-until: {raw:?} is not a date (YYYY-MM-DD)"))
    })?;
    let next_midnight = date
        .succ_opt()
        .ok_or_else(|| AccountError::Invalid("--valid-until: date out of range".into()))?
        .and_time(NaiveTime::MIN)
        .and_utc()
        .timestamp();
    Ok(next_midnight - JST_OFFSET_SECS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_until_covers_the_whole_last_day_in_japan() {
        // 2027-03-31 ends at 2027-04-01T00:00+09:00 = 2027-03-31T15:00Z.
        assert_eq!(end_of_day_jst("2027-03-31").ok(), Some(1_806_505_200));
        assert!(end_of_day_jst("2027-02-30").is_err());
    }

    #[test]
    fn subjects_look_like_uuids_and_differ() {
        let (a, b) = (uuid_like(), uuid_like());
        assert_eq!(a.len(), 36);
        assert_ne!(a, b);
    }

    #[test]
    fn emails_are_checked_loosely_but_safely() {
        assert!(validate_email("taro@example.com").is_ok());
        for bad in [
            "taro",
            "@example.com",
            "taro@example",
            "ta ro@example.com",
            "taro@.com",
        ] {
            assert!(validate_email(bad).is_err(), "{bad}");
        }
    }
}
