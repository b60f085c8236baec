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
use crate::store::{Db, DbConnection, StoreError, accounts, write_tx};

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
    /// The `name@uec.ac.jp` alias (unique across all accounts).
    pub email_alias: Option<String>,
    /// Progression: the account this one succeeds. Its alias, if any, moves to the new
    /// account in the same transaction; it keeps its own end date.
    pub previous: Option<String>,
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

impl From<StoreError> for AccountError {
    fn from(e: StoreError) -> Self {
        AccountError::Service(e.into())
    }
}

/// The domain of e-mail aliases (DOMAIN.md: `name@uec.ac.jp`).
pub const ALIAS_DOMAIN: &str = "uec.ac.jp";

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
    let email_alias = new.email_alias.as_deref().map(validate_alias).transpose()?;
    let previous = new
        .previous
        .as_deref()
        .map(|p| {
            AccountId::from_login_input(p)
                .ok_or_else(|| AccountError::Invalid(format!("--previous: no account {p:?}")))
        })
        .transpose()?;
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
    let mut account = Account {
        id,
        sub: uuid_like(),
        name,
        affiliation,
        personal_email,
        email_alias,
        valid_until,
        status: AccountStatus::Active,
        created_at: now,
        previous_account_id: previous,
        pledge_completed_at: None,
        infoss_completed_at: None,
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
    write_tx(&mut conn, |conn| {
        if let Some(previous) = account.previous_account_id.clone() {
            take_over_alias(conn, &mut account, &previous, now)?;
        }
        if let Some(alias) = &account.email_alias
            && let Some(holder) = accounts::find_alias_holder(conn, alias)?
        {
            return Err(AccountError::Invalid(format!(
                "--email-alias: {alias} is held by account {holder}"
            )));
        }
        accounts::insert_account(conn, &account, &credential, now).map_err(|e| match e {
            StoreError::Conflict => AccountError::Duplicate(account.id.to_string()),
            e => e.into(),
        })?;
        if let Some(destination) = &code_destination {
            second_factors::save_email_destination(conn, destination)?;
        }
        audit::record(
            conn,
            AuditEvent {
                at: now,
                kind: "account_created",
                account_id: Some(account.id.as_str()),
                detail: account
                    .previous_account_id
                    .as_ref()
                    .map(|p| format!("previous={p}")),
                ..Default::default()
            },
        )?;
        Ok::<_, AccountError>(())
    })?;
    Ok(CreatedAccount {
        password_expires_at: credential.expires_at.unwrap_or(i64::MAX),
        account,
        generated_password,
    })
}

/// Progression: checks that `previous` exists and moves its alias to `account` (released
/// first, so the unique alias is never held twice and never free for someone else to take).
fn take_over_alias(
    conn: &mut DbConnection,
    account: &mut Account,
    previous: &AccountId,
    now: i64,
) -> Result<(), AccountError> {
    if accounts::find_account(conn, previous.as_str())?.is_none() {
        return Err(AccountError::Invalid(format!(
            "--previous: no account {previous}"
        )));
    }
    let Some(alias) = accounts::release_alias(conn, previous.as_str(), now)? else {
        return Ok(());
    };
    if account.email_alias.is_some() {
        return Err(AccountError::Invalid(format!(
            "--email-alias: the previous account {previous} holds {alias}, which moves to the new account"
        )));
    }
    audit::record(
        conn,
        AuditEvent {
            at: now,
            kind: "email_alias_moved",
            account_id: Some(previous.as_str()),
            detail: Some(format!("to={}", account.id)),
            ..Default::default()
        },
    )?;
    account.email_alias = Some(alias);
    Ok(())
}

/// An account with the accounts it is linked to by progression.
#[derive(Debug)]
pub struct AccountDetails {
    pub account: Account,
    /// Accounts issued as successors of this one.
    pub successors: Vec<String>,
}

pub fn show_account(db: &Db, id: &str) -> Result<Option<AccountDetails>, ServiceError> {
    let mut conn = db.conn()?;
    let Some(account) = accounts::find_account(&mut conn, id)? else {
        return Ok(None);
    };
    let successors = accounts::find_successors(&mut conn, id)?;
    Ok(Some(AccountDetails {
        account,
        successors,
    }))
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

/// `name@uec.ac.jp`, stored in lower case.
fn validate_alias(raw: &str) -> Result<String, AccountError> {
    let alias = raw.trim().to_ascii_lowercase();
    let ok = alias.split_once('@').is_some_and(|(local, domain)| {
        domain == ALIAS_DOMAIN
            && (1..=64).contains(&local.len())
            && local
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b".-_".contains(&c))
            && !local.starts_with('.')
            && !local.ends_with('.')
    });
    if ok {
        Ok(alias)
    } else {
        Err(AccountError::Invalid(format!(
            "--email-alias: {raw:?} is not an alias of the form name@{ALIAS_DOMAIN}"
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
    fn aliases_are_names_at_uec_ac_jp() {
        assert_eq!(
            validate_alias(" Taro.Chofu@UEC.ac.jp ").ok().as_deref(),
            Some("taro.chofu@uec.ac.jp")
        );
        for bad in [
            "taro@gmail.com",
            "@uec.ac.jp",
            "taro@edu.cc.uec.ac.jp",
            "ta ro@uec.ac.jp",
            ".taro@uec.ac.jp",
            "taro",
        ] {
            assert!(validate_alias(bad).is_err(), "{bad}");
        }
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
