//! Accounts at the end of their life: the ones due for a reminder or deletion, reminders
//! claimed once, and deletion that keeps only a tombstone (id, `sub`, dates) so neither
//! the ID nor the subject is ever issued again.

use diesel::prelude::*;

use super::accounts::AccountRow;
use super::schema::{
    accounts, backup_codes, browser_sessions, email_otp_destinations, lifecycle_reminders,
    login_flows, one_time_codes, passkeys, password_credentials, totp_credentials,
};
use super::{DbConnection, StoreError, StoreResult, grants};
use crate::domain::account::{Account, AccountStatus};

/// Active accounts whose end date is at or before `until` (the only ones that can be due).
pub fn ending_before(conn: &mut DbConnection, until: i64) -> StoreResult<Vec<Account>> {
    accounts::table
        .filter(accounts::status.eq(AccountStatus::Active.as_str()))
        .filter(accounts::valid_until.le(until))
        .order(accounts::id.asc())
        .select(AccountRow::as_select())
        .load(conn)?
        .into_iter()
        .map(AccountRow::into_account)
        .collect()
}

/// Claims the reminder sent `days_before` deletion; false if it was claimed already (by an
/// earlier pass, or by another server right now).
pub fn claim_reminder(
    conn: &mut DbConnection,
    account_id: &str,
    days_before: i64,
    now: i64,
) -> StoreResult<bool> {
    let inserted = diesel::insert_into(lifecycle_reminders::table)
        .values((
            lifecycle_reminders::account_id.eq(account_id),
            lifecycle_reminders::days_before.eq(days_before),
            lifecycle_reminders::sent_at.eq(now),
        ))
        .execute(conn);
    match inserted.map_err(StoreError::from) {
        Ok(_) => Ok(true),
        Err(StoreError::Conflict) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Gives a claimed reminder back (its mail could not be sent), for the next pass.
pub fn release_reminder(
    conn: &mut DbConnection,
    account_id: &str,
    days_before: i64,
) -> StoreResult<()> {
    diesel::delete(lifecycle_reminders::table.find((account_id, days_before))).execute(conn)?;
    Ok(())
}

/// Deletes the account, leaving a tombstone; false if it was not active (already deleted,
/// possibly by another server in the same moment). Call inside a write transaction.
pub fn delete_account(conn: &mut DbConnection, account_id: &str, now: i64) -> StoreResult<bool> {
    let tombstoned = diesel::update(
        accounts::table
            .filter(accounts::id.eq(account_id))
            .filter(accounts::status.eq(AccountStatus::Active.as_str())),
    )
    .set((
        accounts::status.eq(AccountStatus::Deleted.as_str()),
        accounts::name.eq(""),
        accounts::personal_email.eq(None::<String>),
        accounts::email_alias.eq(None::<String>),
        accounts::updated_at.eq(now),
    ))
    .execute(conn)?;
    if tombstoned == 0 {
        return Ok(false);
    }
    diesel::delete(
        password_credentials::table.filter(password_credentials::account_id.eq(account_id)),
    )
    .execute(conn)?;
    diesel::delete(totp_credentials::table.filter(totp_credentials::account_id.eq(account_id)))
        .execute(conn)?;
    diesel::delete(
        email_otp_destinations::table.filter(email_otp_destinations::account_id.eq(account_id)),
    )
    .execute(conn)?;
    diesel::delete(one_time_codes::table.filter(one_time_codes::account_id.eq(account_id)))
        .execute(conn)?;
    diesel::delete(backup_codes::table.filter(backup_codes::account_id.eq(account_id)))
        .execute(conn)?;
    diesel::delete(passkeys::table.filter(passkeys::account_id.eq(account_id))).execute(conn)?;
    diesel::delete(browser_sessions::table.filter(browser_sessions::account_id.eq(account_id)))
        .execute(conn)?;
    diesel::delete(login_flows::table.filter(login_flows::account_id.eq(account_id)))
        .execute(conn)?;
    diesel::delete(
        lifecycle_reminders::table.filter(lifecycle_reminders::account_id.eq(account_id)),
    )
    .execute(conn)?;
    grants::revoke_all_for_account(conn, account_id, now)?;
    Ok(true)
}
