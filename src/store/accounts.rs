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
}

impl AccountRow {
    pub(crate) fn into_account(self) -> StoreResult<Account> {
        let corrupt =
            |what: &str| StoreError::Unavailable(format!("account {}: corrupt {what}", self.id));
        Ok(Account {
            id: AccountId::parse_nonstandard(&self.id).map_err(|_| corrupt("id"))?,
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
