//! Ending browser sessions: RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0)
//! and "sign out everywhere". Ending a session deletes it, revokes the grants it made
//! (except `offline_access` ones) and queues a back-channel logout for every relying party
//! it signed in to, all in one transaction.

use serde::Deserialize;

use crate::domain::client::RelyingParty;
use crate::oidc::logout::{post_logout_redirect, verify_id_token_hint};
use crate::secrets;
use crate::services::ServiceError;
use crate::services::backchannel_logout::enqueue_touched;
use crate::startup::AppState;
use crate::store::audit::{self, AuditEvent};
use crate::store::{DbConnection, StoreResult, clients, grants, sessions};

/// The logout request's parameters (RP-Initiated Logout 1.0 §2), by GET or POST.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct LogoutParams {
    pub id_token_hint: Option<String>,
    pub client_id: Option<String>,
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
    /// Accepted and ignored: every page is in English and Japanese.
    pub ui_locales: Option<String>,
}

/// A request that passed the checks: what the confirmation page carries forward.
#[derive(Clone, Debug, Default)]
pub struct Checked {
    pub client_id: Option<String>,
    pub client_name: Option<String>,
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
    /// Where the browser goes once signed out (the URI with `state`), if anywhere.
    pub redirect: Option<String>,
}

/// What to do with a logout request.
#[derive(Debug)]
pub enum LogoutOutcome {
    /// Refused, shown as an error page, never redirected (the redirect is not trusted).
    Invalid(&'static str),
    /// Ask the person first (no hint, or a hint for another session).
    Confirm(Checked),
    /// Signed out (or was already): redirect if the relying party asked to.
    SignedOut { redirect: Option<String> },
}

/// How the request reached us.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// A relying party's request, with the browser's cookies.
    RpRequest,
    /// A relying party's cross-site POST: SameSite=Lax withholds cookies, so "no session
    /// cookie" proves nothing and the person must confirm on our own page.
    RpPostWithoutCookies,
    /// The person pressed "Sign out" on the confirmation page (CSRF checked).
    Confirmed,
}

/// Decides on (and, when due, performs) a logout.
pub async fn request_logout(
    state: &AppState,
    params: LogoutParams,
    session_cookie: Option<String>,
    via: Via,
    ip: Option<String>,
) -> Result<LogoutOutcome, ServiceError> {
    let now = state.clock.now();
    let hint = match params.id_token_hint.as_deref() {
        Some(token) => match verify_id_token_hint(&state.keys(), token, &state.cfg.issuer) {
            Ok(h) => Some(h),
            Err(_) => {
                return Ok(LogoutOutcome::Invalid(
                    "The sign-out request is not valid: its id_token_hint was not issued by the UEC IdP. / サインアウト要求が不正です。",
                ));
            }
        },
        None => None,
    };
    let client_id = match (params.client_id.clone(), hint.as_ref()) {
        (Some(id), Some(h)) if !h.aud.contains(&id) => {
            return Ok(LogoutOutcome::Invalid(
                "The sign-out request is not valid: client_id does not match the id_token_hint. / サインアウト要求が不正です。",
            ));
        }
        (Some(id), _) => Some(id),
        (None, Some(h)) if h.aud.len() == 1 => h.aud.first().cloned(),
        (None, _) => None,
    };
    let hash = session_cookie.as_deref().map(secrets::hash_token);
    let (client, session) = {
        let (client_id, hash) = (client_id.clone(), hash.clone());
        state
            .db
            .run(move |conn| {
                let client = match client_id {
                    Some(id) => clients::find_client(conn, &id)?,
                    None => None,
                };
                let session = match hash {
                    Some(h) => sessions::find_session(conn, &h, now)?,
                    None => None,
                };
                Ok::<_, ServiceError>((client, session))
            })
            .await?
    };
    if client_id.is_some() && client.is_none() {
        return Ok(LogoutOutcome::Invalid(
            "The sign-out request names an application the UEC IdP does not know. / 不明なアプリケーションからのサインアウト要求です。",
        ));
    }
    let checked = match check_redirect(client.as_ref(), &params) {
        Ok(c) => c,
        Err(message) => return Ok(LogoutOutcome::Invalid(message)),
    };
    let session_matches = match (&session, &hint) {
        (Some((s, account)), Some(h)) => {
            h.sub == account.sub && h.sid.as_ref().is_none_or(|sid| *sid == s.sid)
        }
        _ => false,
    };
    let act = match (via, &session) {
        (Via::Confirmed, _) => true,
        (_, Some(_)) => session_matches,
        (Via::RpRequest, None) => true,
        (Via::RpPostWithoutCookies, None) => false,
    };
    if !act {
        return Ok(LogoutOutcome::Confirm(checked));
    }
    if let (Some(hash), Some(_)) = (hash, session) {
        end_session(state, hash, client_id, ip).await?;
    }
    Ok(LogoutOutcome::SignedOut {
        redirect: checked.redirect,
    })
}

/// The post-logout redirect must be one the client registered, character for character;
/// without a known client none can be trusted.
fn check_redirect(
    client: Option<&RelyingParty>,
    params: &LogoutParams,
) -> Result<Checked, &'static str> {
    let mut checked = Checked {
        client_id: client.map(|c| c.id.clone()),
        client_name: client.map(|c| c.name.clone()),
        state: params.state.clone(),
        ..Default::default()
    };
    let Some(uri) = params.post_logout_redirect_uri.as_deref() else {
        return Ok(checked);
    };
    let Some(client) = client else {
        return Err(
            "The sign-out request asks to return to an address, but names no application (send id_token_hint or client_id). / 戻り先を確認できません。",
        );
    };
    if !client.post_logout_redirect_uris.iter().any(|r| r == uri) {
        return Err(
            "The sign-out request asks to return to an address the application did not register. / 登録されていない戻り先です。",
        );
    }
    checked.post_logout_redirect_uri = Some(uri.to_string());
    checked.redirect = post_logout_redirect(uri, params.state.as_deref());
    Ok(checked)
}

/// Ends the session with this cookie hash, with its grants and back-channel notifications.
async fn end_session(
    state: &AppState,
    hash: String,
    client_id: Option<String>,
    ip: Option<String>,
) -> Result<(), ServiceError> {
    let now = state.clock.now();
    let queued = state
        .db
        .write(move |conn| {
            let Some((session, account)) = sessions::find_session(conn, &hash, now)? else {
                return Ok::<_, ServiceError>(0);
            };
            sessions::delete_session(conn, &hash)?;
            let (ended, queued) = end_session_grants(conn, &session.sid, now)?;
            audit::record(
                conn,
                AuditEvent {
                    at: now,
                    kind: "logout",
                    account_id: Some(account.id.as_str()),
                    client_id: client_id.as_deref(),
                    ip,
                    detail: Some(format!(
                        "{ended} grants ended, {queued} back-channel notifications queued"
                    )),
                },
            )?;
            Ok(queued)
        })
        .await?;
    if queued > 0 {
        state.backchannel.wake();
    }
    Ok(())
}

/// Revokes a session's grants and queues its notifications: (grants ended, queued).
fn end_session_grants(conn: &mut DbConnection, sid: &str, now: i64) -> StoreResult<(usize, usize)> {
    let touched = grants::touched_by_session(conn, sid)?;
    let queued = enqueue_touched(conn, &touched, "logout", now)?;
    let ended = grants::revoke_session_grants(conn, sid, now)?;
    Ok((ended, queued))
}

/// "Sign out everywhere": ends every session of the account (this browser's too), each as a
/// logout; how many sessions ended.
pub async fn sign_out_everywhere(
    state: &AppState,
    account_id: String,
    ip: Option<String>,
) -> Result<usize, ServiceError> {
    let now = state.clock.now();
    let (ended, queued) = state
        .db
        .write(move |conn| {
            let mut queued = 0;
            let sids = sessions::sids_of_account(conn, &account_id)?;
            for sid in &sids {
                queued += end_session_grants(conn, sid, now)?.1;
            }
            let ended = sessions::delete_for_account(conn, &account_id, None)?;
            audit::record(
                conn,
                AuditEvent {
                    at: now,
                    kind: "signed_out_everywhere",
                    account_id: Some(&account_id),
                    ip,
                    detail: Some(format!(
                        "{ended} sessions ended, {queued} back-channel notifications queued"
                    )),
                    ..Default::default()
                },
            )?;
            Ok::<_, ServiceError>((ended, queued))
        })
        .await?;
    if queued > 0 {
        state.backchannel.wake();
    }
    Ok(ended)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> RelyingParty {
        RelyingParty {
            post_logout_redirect_uris: vec!["https://rp.example/bye".into()],
            ..RelyingParty::for_tests("c1", "https://rp.example/cb")
        }
    }

    fn params(uri: &str) -> LogoutParams {
        LogoutParams {
            post_logout_redirect_uri: Some(uri.into()),
            state: Some("s".into()),
            ..Default::default()
        }
    }

    #[test]
    fn only_an_exactly_registered_uri_of_a_known_client_is_followed() {
        let c = client();
        let ok = check_redirect(Some(&c), &params("https://rp.example/bye")).expect("ok");
        assert_eq!(
            ok.redirect.as_deref(),
            Some("https://rp.example/bye?state=s")
        );
        for bad in [
            "https://rp.example/bye/",
            "https://rp.example/by",
            "https://evil.example/bye",
        ] {
            assert!(check_redirect(Some(&c), &params(bad)).is_err(), "{bad}");
        }
        assert!(check_redirect(None, &params("https://rp.example/bye")).is_err());
        let none = check_redirect(None, &LogoutParams::default()).expect("no uri is fine");
        assert_eq!(none.redirect, None);
    }
}
