//! Second-factor credentials: TOTP, the e-mail code destination and its codes, backup codes
//! and passkeys. Plain records: the rules live in `domain::second_factor`. Multi-step
//! changes (consume a code, advance the TOTP step) are single conditional UPDATEs or run in
//! the caller's transaction.

use diesel::prelude::*;

use super::schema::{
    backup_codes, email_otp_destinations, one_time_codes, passkeys, totp_credentials,
};
use super::{DbConnection, StoreResult};

/// What an account has set up; decides what the second-factor page offers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Methods {
    pub totp: bool,
    pub email: Option<String>,
    pub backup_codes_left: i64,
    pub passkeys: i64,
}

impl Methods {
    pub fn any(&self) -> bool {
        self.totp || self.email.is_some() || self.backup_codes_left > 0 || self.passkeys > 0
    }
}

pub fn methods(conn: &mut DbConnection, account_id: &str) -> StoreResult<Methods> {
    let totp = find_totp(conn, account_id)?.is_some();
    let email = email_otp_destinations::table
        .find(account_id)
        .select(email_otp_destinations::address)
        .first::<Option<String>>(conn)
        .optional()?
        .flatten();
    let backup_codes_left = backup_codes::table
        .filter(backup_codes::account_id.eq(account_id))
        .filter(backup_codes::used_at.is_null())
        .count()
        .get_result(conn)?;
    let passkeys = passkeys::table
        .filter(passkeys::account_id.eq(account_id))
        .count()
        .get_result(conn)?;
    Ok(Methods {
        totp,
        email,
        backup_codes_left,
        passkeys,
    })
}

// ---- TOTP ----

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = totp_credentials)]
pub struct TotpRow {
    pub account_id: String,
    pub sealed_secret: String,
    pub confirmed: bool,
    pub last_step: i64,
    pub created_at: i64,
}

fn totp_row(
    conn: &mut DbConnection,
    account_id: &str,
    confirmed: bool,
) -> StoreResult<Option<TotpRow>> {
    Ok(totp_credentials::table
        .find((account_id, confirmed))
        .select(TotpRow::as_select())
        .first(conn)
        .optional()?)
}

/// The authenticator app in use.
pub fn find_totp(conn: &mut DbConnection, account_id: &str) -> StoreResult<Option<TotpRow>> {
    totp_row(conn, account_id, true)
}

/// A set-up in progress (not yet proven by a code).
pub fn find_pending_totp(
    conn: &mut DbConnection,
    account_id: &str,
) -> StoreResult<Option<TotpRow>> {
    totp_row(conn, account_id, false)
}

/// Starts a set-up, replacing an earlier unfinished one; the app in use stays until
/// `confirm_totp`.
pub fn begin_totp(conn: &mut DbConnection, row: &TotpRow) -> StoreResult<()> {
    diesel::delete(totp_credentials::table.find((&row.account_id, false))).execute(conn)?;
    diesel::insert_into(totp_credentials::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// Makes the pending set-up the app in use, its code's `step` spent; false if a concurrent
/// request confirmed it first.
pub fn confirm_totp(conn: &mut DbConnection, account_id: &str, step: i64) -> StoreResult<bool> {
    let pending = totp_credentials::table
        .filter(totp_credentials::account_id.eq(account_id))
        .filter(totp_credentials::confirmed.eq(false))
        .filter(totp_credentials::last_step.lt(step));
    if !diesel::select(diesel::dsl::exists(pending)).get_result::<bool>(conn)? {
        return Ok(false);
    }
    diesel::delete(totp_credentials::table.find((account_id, true))).execute(conn)?;
    let changed = diesel::update(totp_credentials::table.find((account_id, false)))
        .set((
            totp_credentials::confirmed.eq(true),
            totp_credentials::last_step.eq(step),
        ))
        .execute(conn)?;
    Ok(changed == 1)
}

/// Records a step accepted at sign-in; false if a concurrent request already used it or a
/// later one (the replay guard holds even for two requests in the same instant).
pub fn advance_totp(conn: &mut DbConnection, account_id: &str, step: i64) -> StoreResult<bool> {
    let changed = diesel::update(
        totp_credentials::table
            .filter(totp_credentials::account_id.eq(account_id))
            .filter(totp_credentials::confirmed.eq(true))
            .filter(totp_credentials::last_step.lt(step)),
    )
    .set(totp_credentials::last_step.eq(step))
    .execute(conn)?;
    Ok(changed == 1)
}

/// Removes the app in use and any set-up in progress.
pub fn delete_totp(conn: &mut DbConnection, account_id: &str) -> StoreResult<()> {
    diesel::delete(totp_credentials::table.filter(totp_credentials::account_id.eq(account_id)))
        .execute(conn)?;
    Ok(())
}

// ---- e-mail destination and one-time codes ----

#[derive(Clone, Debug, Default, Queryable, Selectable, Insertable)]
#[diesel(table_name = email_otp_destinations)]
pub struct EmailDestination {
    pub account_id: String,
    pub address: Option<String>,
    pub pending_address: Option<String>,
    pub updated_at: i64,
}

pub fn find_email_destination(
    conn: &mut DbConnection,
    account_id: &str,
) -> StoreResult<Option<EmailDestination>> {
    Ok(email_otp_destinations::table
        .find(account_id)
        .select(EmailDestination::as_select())
        .first(conn)
        .optional()?)
}

pub fn save_email_destination(conn: &mut DbConnection, row: &EmailDestination) -> StoreResult<()> {
    diesel::delete(email_otp_destinations::table.find(&row.account_id)).execute(conn)?;
    if row.address.is_some() || row.pending_address.is_some() {
        diesel::insert_into(email_otp_destinations::table)
            .values(row)
            .execute(conn)?;
    }
    Ok(())
}

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = one_time_codes)]
pub struct OneTimeCode {
    pub id: String,
    pub account_id: String,
    pub purpose: String,
    pub code_mac: String,
    pub attempts: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub consumed_at: Option<i64>,
}

/// Stores a new code, voiding earlier unconsumed codes of the same purpose.
pub fn insert_code(conn: &mut DbConnection, code: &OneTimeCode) -> StoreResult<()> {
    diesel::update(
        one_time_codes::table
            .filter(one_time_codes::account_id.eq(&code.account_id))
            .filter(one_time_codes::purpose.eq(&code.purpose))
            .filter(one_time_codes::consumed_at.is_null()),
    )
    .set(one_time_codes::consumed_at.eq(code.created_at))
    .execute(conn)?;
    diesel::insert_into(one_time_codes::table)
        .values(code)
        .execute(conn)?;
    Ok(())
}

/// The live code of a purpose (unconsumed, unexpired, attempts left).
pub fn find_live_code(
    conn: &mut DbConnection,
    account_id: &str,
    purpose: &str,
    now: i64,
    max_attempts: i64,
) -> StoreResult<Option<OneTimeCode>> {
    Ok(one_time_codes::table
        .filter(one_time_codes::account_id.eq(account_id))
        .filter(one_time_codes::purpose.eq(purpose))
        .filter(one_time_codes::consumed_at.is_null())
        .filter(one_time_codes::expires_at.gt(now))
        .filter(one_time_codes::attempts.lt(max_attempts))
        .order(one_time_codes::created_at.desc())
        .select(OneTimeCode::as_select())
        .first(conn)
        .optional()?)
}

/// Deletes expired e-mail codes (consumed ones go when they expire: they are few, and
/// consumed rows cost nothing to keep for ten minutes).
pub fn delete_dead_codes(conn: &mut DbConnection, now: i64) -> StoreResult<usize> {
    Ok(
        diesel::delete(one_time_codes::table.filter(one_time_codes::expires_at.le(now)))
            .execute(conn)?,
    )
}

/// Counts one attempt at a code before it is compared: one conditional UPDATE, so parallel
/// attempts cannot overrun `max_attempts`; false when none is left (or it was used).
pub fn reserve_attempt(conn: &mut DbConnection, id: &str, max_attempts: i64) -> StoreResult<bool> {
    let counted = diesel::update(
        one_time_codes::table
            .filter(one_time_codes::id.eq(id))
            .filter(one_time_codes::consumed_at.is_null())
            .filter(one_time_codes::attempts.lt(max_attempts)),
    )
    .set(one_time_codes::attempts.eq(one_time_codes::attempts + 1))
    .returning(one_time_codes::attempts)
    .get_result::<i64>(conn)
    .optional()?;
    Ok(counted.is_some())
}

/// Marks a code used; false if it already was (single use under concurrency).
pub fn consume_code(conn: &mut DbConnection, id: &str, now: i64) -> StoreResult<bool> {
    let changed = diesel::update(
        one_time_codes::table
            .filter(one_time_codes::id.eq(id))
            .filter(one_time_codes::consumed_at.is_null()),
    )
    .set(one_time_codes::consumed_at.eq(now))
    .execute(conn)?;
    Ok(changed == 1)
}

// ---- backup codes ----

#[derive(Insertable)]
#[diesel(table_name = backup_codes)]
struct NewBackupCode<'a> {
    account_id: &'a str,
    code_mac: &'a str,
    created_at: i64,
}

/// Replaces the account's set: regenerating voids every old code.
pub fn replace_backup_codes(
    conn: &mut DbConnection,
    account_id: &str,
    macs: &[String],
    now: i64,
) -> StoreResult<()> {
    diesel::delete(backup_codes::table.filter(backup_codes::account_id.eq(account_id)))
        .execute(conn)?;
    for mac in macs {
        diesel::insert_into(backup_codes::table)
            .values(NewBackupCode {
                account_id,
                code_mac: mac,
                created_at: now,
            })
            .execute(conn)?;
    }
    Ok(())
}

/// Uses a backup code; false if it is not an unused code of this account.
pub fn consume_backup_code(
    conn: &mut DbConnection,
    account_id: &str,
    mac: &str,
    now: i64,
) -> StoreResult<bool> {
    let changed = diesel::update(
        backup_codes::table
            .filter(backup_codes::account_id.eq(account_id))
            .filter(backup_codes::code_mac.eq(mac))
            .filter(backup_codes::used_at.is_null()),
    )
    .set(backup_codes::used_at.eq(now))
    .execute(conn)?;
    Ok(changed == 1)
}

pub fn delete_backup_codes(conn: &mut DbConnection, account_id: &str) -> StoreResult<()> {
    diesel::delete(backup_codes::table.filter(backup_codes::account_id.eq(account_id)))
        .execute(conn)?;
    Ok(())
}

// ---- passkeys ----

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = passkeys)]
pub struct PasskeyRow {
    pub credential_id: String,
    pub account_id: String,
    pub name: String,
    pub credential: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

pub fn list_passkeys(conn: &mut DbConnection, account_id: &str) -> StoreResult<Vec<PasskeyRow>> {
    Ok(passkeys::table
        .filter(passkeys::account_id.eq(account_id))
        .order(passkeys::created_at.asc())
        .select(PasskeyRow::as_select())
        .load(conn)?)
}

pub fn insert_passkey(conn: &mut DbConnection, row: &PasskeyRow) -> StoreResult<()> {
    diesel::insert_into(passkeys::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// Stores the credential's new state (signature counter) after a use.
pub fn touch_passkey(
    conn: &mut DbConnection,
    credential_id: &str,
    credential: &str,
    now: i64,
) -> StoreResult<()> {
    diesel::update(passkeys::table.find(credential_id))
        .set((
            passkeys::credential.eq(credential),
            passkeys::last_used_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Removes one of the account's passkeys; false if it had no such passkey.
pub fn delete_passkey(
    conn: &mut DbConnection,
    account_id: &str,
    credential_id: &str,
) -> StoreResult<bool> {
    let n = diesel::delete(
        passkeys::table
            .filter(passkeys::account_id.eq(account_id))
            .filter(passkeys::credential_id.eq(credential_id)),
    )
    .execute(conn)?;
    Ok(n == 1)
}

/// The passkey with this credential id, whoever's it is (credential ids are unique).
pub fn find_passkey(
    conn: &mut DbConnection,
    credential_id: &str,
) -> StoreResult<Option<PasskeyRow>> {
    Ok(passkeys::table
        .find(credential_id)
        .select(PasskeyRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn rename_passkey(
    conn: &mut DbConnection,
    account_id: &str,
    credential_id: &str,
    name: &str,
) -> StoreResult<bool> {
    let n = diesel::update(
        passkeys::table
            .filter(passkeys::account_id.eq(account_id))
            .filter(passkeys::credential_id.eq(credential_id)),
    )
    .set(passkeys::name.eq(name))
    .execute(conn)?;
    Ok(n == 1)
}
