//! The one table of every route. Guards: `anonymous` needs nothing; `login-flow` needs a
//! live flow id and the CSRF cookie; `session` needs the session cookie; `client-auth`
//! authenticates the relying party; `bearer` needs an access token.

use actix_web::web;

use crate::oidc::discovery::paths;
use crate::web::{
    access, account, consent, developer, health, login, logout, middleware, oidc, par, passkeys,
    password, registration, reissue, second_factor, token_status, userinfo,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("")
            .wrap(middleware::security_headers())
            .wrap(actix_web::middleware::from_fn(middleware::log_request))
            // anonymous
            .route(paths::DISCOVERY, web::get().to(oidc::get_discovery))
            .route(paths::JWKS, web::get().to(oidc::get_jwks))
            .route("/healthz", web::get().to(health::get_healthz))
            .route("/static/style.css", web::get().to(health::get_stylesheet))
            .route("/static/passkeys.js", web::get().to(passkeys::get_script))
            // anonymous, or session when one exists
            .route(paths::AUTHORIZE, web::get().to(oidc::get_authorize))
            .route(paths::AUTHORIZE, web::post().to(oidc::post_authorize))
            // anonymous, with the CSRF cookie on every form
            .route(reissue::PATH, web::get().to(reissue::get_reissue))
            .route(reissue::PATH, web::post().to(reissue::post_reissue))
            .route(reissue::KEY_PATH, web::post().to(reissue::post_key))
            // login-flow
            .route(paths::LOGIN, web::get().to(login::get_login))
            .route(paths::LOGIN, web::post().to(login::post_login))
            .route(
                second_factor::PATH,
                web::get().to(second_factor::get_second_factor),
            )
            .route(
                second_factor::PATH,
                web::post().to(second_factor::post_second_factor),
            )
            .route(
                "/login/second-factor/email",
                web::post().to(second_factor::post_send_code),
            )
            .route(
                "/login/passkey/begin",
                web::post().to(passkeys::post_sign_in_begin),
            )
            .route(
                "/login/passkey/finish",
                web::post().to(passkeys::post_sign_in_finish),
            )
            // session
            .route(
                access::PATH_REFUSED,
                web::get().to(access::get_access_refused),
            )
            // session (the consent flow is bound to it), CSRF on the form
            .route(consent::PATH, web::get().to(consent::get_consent))
            .route(consent::PATH, web::post().to(consent::post_consent))
            .route(consent::APPS_PATH, web::get().to(consent::get_apps))
            .route(
                consent::WITHDRAW_PATH,
                web::post().to(consent::post_withdraw),
            )
            .route("/account", web::get().to(account::get_account))
            .route(
                "/account/totp/setup",
                web::post().to(account::post_totp_setup),
            )
            .route(
                "/account/totp/confirm",
                web::post().to(account::post_totp_confirm),
            )
            .route(
                "/account/totp/remove",
                web::post().to(account::post_totp_remove),
            )
            .route("/account/email", web::post().to(account::post_email))
            .route(
                "/account/email/confirm",
                web::post().to(account::post_email_confirm),
            )
            .route(
                "/account/email/remove",
                web::post().to(account::post_email_remove),
            )
            .route(
                "/account/backup-codes",
                web::post().to(account::post_backup_codes),
            )
            .route(
                "/account/backup-codes/remove",
                web::post().to(account::post_backup_codes_remove),
            )
            .route("/account/password", web::get().to(password::get_password))
            .route("/account/password", web::post().to(password::post_password))
            .route("/account/passkeys", web::get().to(passkeys::get_passkeys))
            .route(
                "/account/passkeys",
                web::post().to(passkeys::post_register_finish),
            )
            .route(
                "/account/passkeys/begin",
                web::post().to(passkeys::post_register_begin),
            )
            .route(
                "/account/passkeys/rename",
                web::post().to(passkeys::post_rename),
            )
            .route(
                "/account/passkeys/remove",
                web::post().to(passkeys::post_remove),
            )
            // session: the developer portal (faculty and staff)
            .route(developer::PATH, web::get().to(developer::get_apps))
            .route("/developer/apps/new", web::get().to(developer::get_new_app))
            .route("/developer/apps", web::post().to(developer::post_new_app))
            .route("/developer/apps/{id}", web::get().to(developer::get_app))
            .route("/developer/apps/{id}", web::post().to(developer::post_app))
            .route(
                "/developer/apps/{id}/secret",
                web::post().to(developer::post_rotate_secret),
            )
            .route(
                "/developer/apps/{id}/delete",
                web::post().to(developer::post_delete_app),
            )
            // bearer: an initial access token, then the registration access token
            .route(paths::REGISTER, web::post().to(registration::post_register))
            .route(
                "/register/{client_id}",
                web::get().to(registration::get_client_configuration),
            )
            .route(
                "/register/{client_id}",
                web::put().to(registration::put_client_configuration),
            )
            .route(
                "/register/{client_id}",
                web::delete().to(registration::delete_client_configuration),
            )
            // anonymous, or session when one exists; the confirmation form needs the CSRF cookie
            .route(paths::END_SESSION, web::get().to(logout::get_logout))
            .route(paths::END_SESSION, web::post().to(logout::post_logout))
            // session
            .route(
                logout::SIGN_OUT_EVERYWHERE,
                web::post().to(logout::post_sign_out_everywhere),
            )
            // client-auth
            .route(paths::PAR, web::post().to(par::post_par))
            .route(paths::TOKEN, web::post().to(oidc::post_token))
            .route(paths::REVOKE, web::post().to(token_status::post_revoke))
            .route(
                paths::INTROSPECT,
                web::post().to(token_status::post_introspect),
            )
            // bearer or DPoP
            .route(paths::USERINFO, web::get().to(userinfo::get_userinfo))
            .route(paths::USERINFO, web::post().to(userinfo::post_userinfo)),
    );
}
