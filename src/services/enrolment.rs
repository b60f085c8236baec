//! Setting up and removing second factors on the account pages. Every change takes effect
//! at once and is written to the audit log.

use crate::domain::account::Account;
use crate::domain::second_factor::{backup_codes, email_otp, totp};
use crate::mail::messages;
use crate::secrets;
use crate::services::ServiceError;
use crate::services::second_factor::{
    PURPOSE_CONFIRM_ADDRESS, backup_purpose, code_purpose, mask, totp_purpose,
};
use crate::startup::AppState;
use crate::store::audit;
use crate::store::second_factors::{self, EmailDestination, Methods, OneTimeCode, TotpRow};
use crate::store::write_tx;

/// The issuer name authenticator apps show next to the account.
pub const TOTP_ISSUER: &str = "UEC IdP";

/// What the TOTP set-up page shows: the QR code and, for manual entry, the URI and secret.
#[derive(Debug, Clone)]
pub struct TotpSetup {
    pub otpauth_uri: String,
    pub secret_base32: String,
    pub qr_svg: String,
}

pub async fn methods(state: &AppState, account_id: String) -> Result<Methods, ServiceError> {
    state
        .db
        .run(move |conn| Ok(second_factors::methods(conn, &account_id)?))
        .await
}

fn setup_view(secret: &[u8], account_id: &str) -> TotpSetup {
    let otpauth_uri = totp::otpauth_uri(secret, account_id, TOTP_ISSUER);
    TotpSetup {
        secret_base32: totp::secret_base32(secret),
        qr_svg: totp::qr_svg(&otpauth_uri),
        otpauth_uri,
    }
}

/// Starts a new authenticator-app set-up (one app per account: a new set-up is for a new
/// device). The app in use keeps working until `totp_confirm` proves the new one.
pub async fn totp_begin(state: &AppState, account: &Account) -> Result<TotpSetup, ServiceError> {
    let secret = totp::generate_secret();
    let now = state.clock.now();
    let id = account.id.to_string();
    let row = TotpRow {
        account_id: id.clone(),
        sealed_secret: state.server_secret.seal(&totp_purpose(&id), &secret),
        confirmed: false,
        last_step: 0,
        created_at: now,
    };
    state
        .db
        .write(move |conn| Ok::<_, ServiceError>(second_factors::begin_totp(conn, &row)?))
        .await?;
    Ok(setup_view(&secret, account.id.as_str()))
}

/// The pending (unconfirmed) set-up, to show again after a wrong code.
pub async fn totp_pending(
    state: &AppState,
    account: &Account,
) -> Result<Option<TotpSetup>, ServiceError> {
    let id = account.id.to_string();
    let row = state
        .db
        .run(move |conn| Ok::<_, ServiceError>(second_factors::find_pending_totp(conn, &id)?))
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let secret = state
        .server_secret
        .open(&totp_purpose(account.id.as_str()), &row.sealed_secret)
        .map_err(|e| ServiceError::Internal(e.to_string()))?;
    Ok(Some(setup_view(&secret, account.id.as_str())))
}

/// Enables the pending set-up if `code` is right (the app really has the secret).
pub async fn totp_confirm(
    state: &AppState,
    account: &Account,
    code: &str,
) -> Result<bool, ServiceError> {
    let now = state.clock.now();
    let id = account.id.to_string();
    let secret = state.server_secret.clone();
    let code = code.to_string();
    state
        .db
        .write(move |conn| {
            let Some(row) = second_factors::find_pending_totp(conn, &id)? else {
                return Ok(false);
            };
            let seed = secret
                .open(&totp_purpose(&id), &row.sealed_secret)
                .map_err(|e| ServiceError::Internal(e.to_string()))?;
            let Some(step) = totp::verify(&seed, &code, now, row.last_step) else {
                return Ok(false);
            };
            let ok = second_factors::confirm_totp(conn, &id, step)?;
            if ok {
                audit::record_account_event(conn, now, "second_factor_added", &id, "totp")?;
            }
            Ok::<_, ServiceError>(ok)
        })
        .await
}

pub async fn totp_remove(state: &AppState, account: &Account) -> Result<(), ServiceError> {
    let now = state.clock.now();
    let id = account.id.to_string();
    state
        .db
        .write(move |conn| {
            second_factors::delete_totp(conn, &id)?;
            audit::record_account_event(conn, now, "second_factor_removed", &id, "totp")?;
            Ok::<_, ServiceError>(())
        })
        .await
}

/// The answer to "send codes to this address".
#[derive(Debug, PartialEq, Eq)]
pub enum EmailBegin {
    /// A confirmation code went to the (masked) address.
    Sent(String),
    /// A university mailbox or not an address at all.
    NotAllowed,
    SendFailed,
}

pub async fn email_begin(
    state: &AppState,
    account: &Account,
    address: &str,
) -> Result<EmailBegin, ServiceError> {
    let address = address.trim().to_string();
    if !email_otp::is_allowed_destination(
        &address,
        &state.settings.second_factor.email_denied_domains,
    ) {
        return Ok(EmailBegin::NotAllowed);
    }
    let now = state.clock.now();
    let id = account.id.to_string();
    let code = email_otp::generate_code();
    let row = OneTimeCode {
        id: secrets::new_id(),
        account_id: id.clone(),
        purpose: PURPOSE_CONFIRM_ADDRESS.into(),
        code_mac: state
            .server_secret
            .mac(&code_purpose(&id, PURPOSE_CONFIRM_ADDRESS), &code),
        attempts: 0,
        created_at: now,
        expires_at: now + email_otp::CODE_TTL_SECS,
        consumed_at: None,
    };
    let pending = address.clone();
    state
        .db
        .write(move |conn| {
            let mut dest =
                second_factors::find_email_destination(conn, &id)?.unwrap_or_else(|| {
                    EmailDestination {
                        account_id: id.clone(),
                        ..Default::default()
                    }
                });
            dest.pending_address = Some(pending);
            dest.updated_at = now;
            second_factors::save_email_destination(conn, &dest)?;
            second_factors::insert_code(conn, &row)?;
            Ok::<_, ServiceError>(())
        })
        .await?;
    let mail = messages::confirm_address(account.id.as_str(), &code, email_otp::CODE_TTL_SECS / 60)
        .to(&address);
    match state.mailer.send(mail).await {
        Ok(()) => Ok(EmailBegin::Sent(mask(&address))),
        Err(e) => {
            tracing::error!(account = %account.id, error = %e, "confirmation code not sent");
            Ok(EmailBegin::SendFailed)
        }
    }
}

/// Makes the pending address the destination if `code` is the one sent to it.
pub async fn email_confirm(
    state: &AppState,
    account: &Account,
    code: &str,
) -> Result<bool, ServiceError> {
    let Some(digits) = email_otp::normalize(code) else {
        return Ok(false);
    };
    let now = state.clock.now();
    let id = account.id.to_string();
    let secret = state.server_secret.clone();
    state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| {
                let Some(dest) = second_factors::find_email_destination(conn, &id)? else {
                    return Ok(false);
                };
                let Some(pending) = dest.pending_address.clone() else {
                    return Ok(false);
                };
                let Some(code) = second_factors::find_live_code(
                    conn,
                    &id,
                    PURPOSE_CONFIRM_ADDRESS,
                    now,
                    email_otp::MAX_ATTEMPTS,
                )?
                else {
                    return Ok(false);
                };
                // Counted before compared, so parallel tries cannot overrun the limit.
                if !second_factors::reserve_attempt(conn, &code.id, email_otp::MAX_ATTEMPTS)? {
                    return Ok(false);
                }
                let mac = secret.mac(&code_purpose(&id, PURPOSE_CONFIRM_ADDRESS), &digits);
                if !secrets::constant_time_eq(&mac, &code.code_mac) {
                    return Ok(false);
                }
                if !second_factors::consume_code(conn, &code.id, now)? {
                    return Ok(false);
                }
                second_factors::save_email_destination(
                    conn,
                    &EmailDestination {
                        account_id: id.clone(),
                        address: Some(pending),
                        pending_address: None,
                        updated_at: now,
                    },
                )?;
                audit::record_account_event(conn, now, "second_factor_added", &id, "email")?;
                Ok::<_, ServiceError>(true)
            })
        })
        .await
}

pub async fn email_remove(state: &AppState, account: &Account) -> Result<(), ServiceError> {
    let now = state.clock.now();
    let id = account.id.to_string();
    state
        .db
        .write(move |conn| {
            second_factors::save_email_destination(
                conn,
                &EmailDestination {
                    account_id: id.clone(),
                    updated_at: now,
                    ..Default::default()
                },
            )?;
            audit::record_account_event(conn, now, "second_factor_removed", &id, "email")?;
            Ok::<_, ServiceError>(())
        })
        .await
}

/// Ten new backup codes, shown once; the old set stops working at once.
pub async fn backup_codes_regenerate(
    state: &AppState,
    account: &Account,
) -> Result<Vec<String>, ServiceError> {
    let codes = backup_codes::generate();
    let id = account.id.to_string();
    let macs: Vec<String> = codes
        .iter()
        .filter_map(|c| backup_codes::normalize(c))
        .map(|c| state.server_secret.mac(&backup_purpose(&id), &c))
        .collect();
    let now = state.clock.now();
    state
        .db
        .write(move |conn| {
            second_factors::replace_backup_codes(conn, &id, &macs, now)?;
            audit::record_account_event(conn, now, "second_factor_added", &id, "backup_codes")?;
            Ok::<_, ServiceError>(())
        })
        .await?;
    Ok(codes)
}

pub async fn backup_codes_remove(state: &AppState, account: &Account) -> Result<(), ServiceError> {
    let now = state.clock.now();
    let id = account.id.to_string();
    state
        .db
        .write(move |conn| {
            second_factors::delete_backup_codes(conn, &id)?;
            audit::record_account_event(conn, now, "second_factor_removed", &id, "backup_codes")?;
            Ok::<_, ServiceError>(())
        })
        .await
}
