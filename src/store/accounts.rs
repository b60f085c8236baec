//! Accounts and their password credentials.

use diesel::prelude::*;

use super::schema::{accounts, password_credentials};
use super::{DbConnection, StoreError, StoreResult};
use crate::domain::account::{Account, AccountId, AccountStatus, Affiliation};
use crate::domain::password::{PasswordCredential, PasswordKind};

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = accounts)]
pub struct AccountRow {
    pub id: String,
    pub sub: String,
    pub name: String,
    pub affiliation: String,
    pub personal_email: Option<String>,
    pub email_alias: Option<String>,
    pub valid_until: Option<i64>,
    pub status: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub previous_account_id: Option<String>,
    pub pledge_completed_at: Option<i64>,
    pub infoss_completed_at: Option<i64>,
}

impl AccountRow {
    pub(crate) fn into_account(self) -> StoreResult<Account> {
        let corrupt =
            |what: &str| StoreError::Unavailable(format!("account {}: corrupt {what}", self.id));
        let previous_account_id = self
            .previous_account_id
            .as_deref()
            .map(|p| AccountId::parse_nonstandard(p).map_err(|_| corrupt("previous_account_id")))
            .transpose()?;
        Ok(Account {
            id: AccountId::parse_nonstandard(&self.id).map_err(|_| corrupt("id"))?,
            previous_account_id,
            pledge_completed_at: self.pledge_completed_at,
            infoss_completed_at: self.infoss_completed_at,
            affiliation: Affiliation::parse(&self.affiliation)
                .ok_or_else(|| corrupt("affiliation"))?,
            status: AccountStatus::parse(&self.status),
            sub: self.sub,
            name: self.name,
            personal_email: self.personal_email,
            email_alias: self.email_alias,
            valid_until: self.valid_until,
            created_at: self.created_at,
        })
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = password_credentials)]
pub struct PasswordRow {
    pub account_id: String,
    pub hash: String,
    pub kind: String,
    pub expires_at: Option<i64>,
    pub changed_at: i64,
}

/// Inserts an account and its password in the caller's transaction.
/// `StoreError::Conflict` when the ID, `sub` or alias is taken.
pub fn insert_account(
    conn: &mut DbConnection,
    account: &Account,
    password: &PasswordCredential,
    now: i64,
) -> StoreResult<()> {
    diesel::insert_into(accounts::table)
        .values(AccountRow {
            id: account.id.to_string(),
            sub: account.sub.clone(),
            name: account.name.clone(),
            affiliation: account.affiliation.as_str().into(),
            personal_email: account.personal_email.clone(),
            email_alias: account.email_alias.clone(),
            valid_until: account.valid_until,
            status: account.status.as_str().into(),
            created_at: now,
            updated_at: now,
            previous_account_id: account.previous_account_id.as_ref().map(|p| p.to_string()),
            pledge_completed_at: account.pledge_completed_at,
            infoss_completed_at: account.infoss_completed_at,
        })
        .execute(conn)?;
    diesel::insert_into(password_credentials::table)
        .values(PasswordRow {
            account_id: account.id.to_string(),
            hash: password.hash.clone(),
            kind: password.kind.as_str().into(),
            expires_at: password.expires_at,
            changed_at: now,
        })
        .execute(conn)?;
    Ok(())
}

pub fn find_account(conn: &mut DbConnection, id: &str) -> StoreResult<Option<Account>> {
    accounts::table
        .find(id)
        .select(AccountRow::as_select())
        .first(conn)
        .optional()?
        .map(AccountRow::into_account)
        .transpose()
}

/// The account and its password credential, for sign-in.
pub fn find_with_password(
    conn: &mut DbConnection,
    id: &str,
) -> StoreResult<Option<(Account, Option<PasswordCredential>)>> {
    let row = accounts::table
        .left_join(password_credentials::table)
        .filter(accounts::id.eq(id))
        .select((AccountRow::as_select(), Option::<PasswordRow>::as_select()))
        .first::<(AccountRow, Option<PasswordRow>)>(conn)
        .optional()?;
    let Some((account, password)) = row else {
        return Ok(None);
    };
    let password = password.and_then(|p| {
        Some(PasswordCredential {
            kind: PasswordKind::parse(&p.kind)?,
            hash: p.hash,
            expires_at: p.expires_at,
        })
    });
    Ok(Some((account.into_account()?, password)))
}

pub fn list_accounts(conn: &mut DbConnection) -> StoreResult<Vec<Account>> {
    accounts::table
        .order(accounts::id.asc())
        .select(AccountRow::as_select())
        .load(conn)?
        .into_iter()
        .map(AccountRow::into_account)
        .collect()
}

/// Replaces the account's password (a change, a reissue).
pub fn set_password(
    conn: &mut DbConnection,
    account_id: &str,
    password: &PasswordCredential,
    now: i64,
) -> StoreResult<()> {
    diesel::update(password_credentials::table.find(account_id))
        .set((
            password_credentials::hash.eq(&password.hash),
            password_credentials::kind.eq(password.kind.as_str()),
            password_credentials::expires_at.eq(password.expires_at),
            password_credentials::changed_at.eq(now),
            // A change-by deadline ends with the old password.
            password_credentials::change_by.eq(None::<i64>),
        ))
        .execute(conn)?;
    Ok(())
}

/// The date by which the password must be changed, if it is flagged.
pub fn password_change_by(conn: &mut DbConnection, account_id: &str) -> StoreResult<Option<i64>> {
    Ok(password_credentials::table
        .find(account_id)
        .select(password_credentials::change_by)
        .first::<Option<i64>>(conn)
        .optional()?
        .flatten())
}

/// Flags the password to be changed by `deadline`; an earlier deadline already set stands.
pub fn flag_password(conn: &mut DbConnection, account_id: &str, deadline: i64) -> StoreResult<()> {
    let unflagged_or_later = password_credentials::change_by
        .is_null()
        .or(password_credentials::change_by.gt(deadline));
    diesel::update(
        password_credentials::table
            .find(account_id)
            .filter(unflagged_or_later),
    )
    .set(password_credentials::change_by.eq(deadline))
    .execute(conn)?;
    Ok(())
}

/// The accounts issued as successors of `id` (progression), oldest first.
pub fn find_successors(conn: &mut DbConnection, id: &str) -> StoreResult<Vec<String>> {
    Ok(accounts::table
        .filter(accounts::previous_account_id.eq(id))
        .order((accounts::created_at.asc(), accounts::id.asc()))
        .select(accounts::id)
        .load(conn)?)
}

/// Releases the e-mail alias of `id` (in the caller's transaction, so that a successor can
/// take it in the same step); returns the alias it held.
pub fn release_alias(conn: &mut DbConnection, id: &str, now: i64) -> StoreResult<Option<String>> {
    let alias: Option<Option<String>> = accounts::table
        .find(id)
        .select(accounts::email_alias)
        .first(conn)
        .optional()?;
    let alias = alias.flatten();
    if alias.is_some() {
        diesel::update(accounts::table.find(id))
            .set((
                accounts::email_alias.eq(None::<String>),
                accounts::updated_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(alias)
}

/// What recording completions did to one account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recorded {
    NoSuchAccount,
    /// The dates given were not later than those recorded: nothing changed.
    Unchanged,
    Updated,
}

/// Records pledge / INFOSS completion times; a later time wins and a recorded time never
/// moves backwards, so replaying the same data changes nothing. Call in a transaction.
pub fn record_completions(
    conn: &mut DbConnection,
    id: &str,
    pledge: Option<i64>,
    infoss: Option<i64>,
    now: i64,
) -> StoreResult<Recorded> {
    let current: Option<(Option<i64>, Option<i64>)> = accounts::table
        .find(id)
        .select((accounts::pledge_completed_at, accounts::infoss_completed_at))
        .first(conn)
        .optional()?;
    let Some((old_pledge, old_infoss)) = current else {
        return Ok(Recorded::NoSuchAccount);
    };
    let later = |old: Option<i64>, new: Option<i64>| old.max(new);
    let (new_pledge, new_infoss) = (later(old_pledge, pledge), later(old_infoss, infoss));
    if (new_pledge, new_infoss) == (old_pledge, old_infoss) {
        return Ok(Recorded::Unchanged);
    }
    diesel::update(accounts::table.find(id))
        .set((
            accounts::pledge_completed_at.eq(new_pledge),
            accounts::infoss_completed_at.eq(new_infoss),
            accounts::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(Recorded::Updated)
}

/// The account holding `alias`, if any.
pub fn find_alias_holder(conn: &mut DbConnection, alias: &str) -> StoreResult<Option<String>> {
    Ok(accounts::table
        .filter(accounts::email_alias.eq(alias))
        .select(accounts::id)
        .first(conn)
        .optional()?)
}
