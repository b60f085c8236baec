//! The developer portal (`/developer`): faculty and staff register and manage their own
//! OpenID Connect apps. Session guard as for `/account`; every form carries the CSRF token.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::services::developer_apps::{self, AppError, AppForm};
use crate::startup::AppState;
use crate::web::account::CsrfForm;
use crate::web::account::granted;
use crate::web::cookies;
use crate::web::errors::PageError;
use crate::web::extractors::ClientIp;
use crate::web::oidc::redirect;
use crate::web::second_factor::check_csrf;
use crate::web::views::developer::{
    AppFormValues, app_page, apps_page, credentials_page, new_app_page,
};

pub const PATH: &str = "/developer";

fn page(
    status: StatusCode,
    req: &HttpRequest,
    state: &AppState,
    render: impl FnOnce(&str) -> maud::Markup,
) -> HttpResponse {
    cookies::page_with_csrf(status, req, state.cfg.secure_cookies, render)
}

/// Refusals that are pages of their own (403, 404, server faults).
fn refusal(e: AppError) -> PageError {
    match e {
        AppError::NotAllowed => PageError {
            status: StatusCode::FORBIDDEN,
            message: "Only faculty and staff can register apps. Students cannot use the developer portal. / アプリを登録できるのは教職員のみです。学生は開発者ポータルを利用できません。".into(),
            incident: None,
        },
        AppError::NotFound => PageError {
            status: StatusCode::NOT_FOUND,
            message: "There is no such app among yours. / 該当するアプリはありません。".into(),
            incident: None,
        },
        AppError::Invalid(m) => PageError::bad_request(m.message),
        AppError::Service(s) => s.into(),
    }
}

#[derive(Deserialize)]
pub struct AppFormInput {
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    redirect_uris: String,
    #[serde(default)]
    post_logout_redirect_uris: String,
    #[serde(default)]
    backchannel_logout_uri: String,
    #[serde(default)]
    client_type: Option<String>,
}

fn lines(raw: &str) -> Vec<String> {
    raw.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

impl AppFormInput {
    fn values(&self) -> AppFormValues {
        AppFormValues {
            name: self.name.clone(),
            redirect_uris: self.redirect_uris.clone(),
            post_logout_redirect_uris: self.post_logout_redirect_uris.clone(),
            backchannel_logout_uri: self.backchannel_logout_uri.clone(),
            public: self.client_type.as_deref() == Some("public"),
        }
    }

    fn form(&self) -> AppForm {
        let backchannel = self.backchannel_logout_uri.trim();
        AppForm {
            name: self.name.clone(),
            redirect_uris: lines(&self.redirect_uris),
            post_logout_redirect_uris: lines(&self.post_logout_redirect_uris),
            backchannel_logout_uri: (!backchannel.is_empty()).then(|| backchannel.to_string()),
            public: self.client_type.as_deref() == Some("public"),
        }
    }
}

#[derive(Deserialize)]
pub struct DeleteForm {
    csrf: String,
    confirm: Option<String>,
}

pub async fn get_apps(
    req: HttpRequest,
    state: web::Data<AppState>,
    ClientIp(client): ClientIp,
) -> Result<HttpResponse, PageError> {
    let (_, account) = granted!(req, state, client);
    let apps = developer_apps::list_apps(&state, &account)
        .await
        .map_err(refusal)?;
    Ok(page(StatusCode::OK, &req, &state, |_| apps_page(&apps)))
}

pub async fn get_new_app(
    req: HttpRequest,
    state: web::Data<AppState>,
    ClientIp(client): ClientIp,
) -> Result<HttpResponse, PageError> {
    let (_, account) = granted!(req, state, client);
    // Refuse students here already, not only when they submit.
    developer_apps::list_apps(&state, &account)
        .await
        .map_err(refusal)?;
    Ok(page(StatusCode::OK, &req, &state, |csrf| {
        new_app_page(&AppFormValues::default(), csrf, None)
    }))
}

pub async fn post_new_app(
    req: HttpRequest,
    state: web::Data<AppState>,
    ClientIp(client): ClientIp,
    input: web::Form<AppFormInput>,
) -> Result<HttpResponse, PageError> {
    check_csrf(&req, state.cfg.secure_cookies, &input.csrf)?;
    let (_, account) = granted!(req, state, client);
    match developer_apps::register_app(&state, &account, input.form()).await {
        Ok(registered) => Ok(page(StatusCode::OK, &req, &state, |_| {
            credentials_page(
                &registered.client,
                registered.client_secret.as_deref(),
                false,
            )
        })),
        Err(AppError::Invalid(m)) => Ok(page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &req,
            &state,
            |csrf| new_app_page(&input.values(), csrf, Some(&m.message)),
        )),
        Err(e) => Err(refusal(e)),
    }
}

pub async fn get_app(
    req: HttpRequest,
    state: web::Data<AppState>,
    ClientIp(client): ClientIp,
    id: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let (_, account) = granted!(req, state, client);
    let app = developer_apps::find_app(&state, &account, id.into_inner())
        .await
        .map_err(refusal)?;
    Ok(page(StatusCode::OK, &req, &state, |csrf| {
        app_page(&app, &AppFormValues::of(&app), csrf, None)
    }))
}

pub async fn post_app(
    req: HttpRequest,
    state: web::Data<AppState>,
    ClientIp(client): ClientIp,
    id: web::Path<String>,
    input: web::Form<AppFormInput>,
) -> Result<HttpResponse, PageError> {
    check_csrf(&req, state.cfg.secure_cookies, &input.csrf)?;
    let (_, account) = granted!(req, state, client);
    let id = id.into_inner();
    match developer_apps::update_app(&state, &account, id.clone(), input.form()).await {
        Ok(app) => Ok(redirect(
            StatusCode::SEE_OTHER,
            &format!("/developer/apps/{}", app.id),
        )),
        Err(AppError::Invalid(m)) => {
            let app = developer_apps::find_app(&state, &account, id)
                .await
                .map_err(refusal)?;
            let values = AppFormValues {
                public: app.is_public(),
                ..input.values()
            };
            Ok(page(
                StatusCode::UNPROCESSABLE_ENTITY,
                &req,
                &state,
                |csrf| app_page(&app, &values, csrf, Some(&m.message)),
            ))
        }
        Err(e) => Err(refusal(e)),
    }
}

pub async fn post_rotate_secret(
    req: HttpRequest,
    state: web::Data<AppState>,
    ClientIp(client): ClientIp,
    id: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    check_csrf(&req, state.cfg.secure_cookies, &form.csrf)?;
    let (_, account) = granted!(req, state, client);
    let (app, secret) = developer_apps::rotate_secret(&state, &account, id.into_inner())
        .await
        .map_err(refusal)?;
    Ok(page(StatusCode::OK, &req, &state, |_| {
        credentials_page(&app, Some(&secret), true)
    }))
}

pub async fn post_delete_app(
    req: HttpRequest,
    state: web::Data<AppState>,
    ClientIp(client): ClientIp,
    id: web::Path<String>,
    form: web::Form<DeleteForm>,
) -> Result<HttpResponse, PageError> {
    check_csrf(&req, state.cfg.secure_cookies, &form.csrf)?;
    let (_, account) = granted!(req, state, client);
    let id = id.into_inner();
    if form.confirm.as_deref() != Some("yes") {
        let app = developer_apps::find_app(&state, &account, id)
            .await
            .map_err(refusal)?;
        return Ok(page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &req,
            &state,
            |csrf| {
                app_page(
                    &app,
                    &AppFormValues::of(&app),
                    csrf,
                    Some(
                        "Tick the box to confirm the deletion. / 削除を確認するにはチェックを入れてください。",
                    ),
                )
            },
        ));
    }
    developer_apps::delete_app(&state, &account, id)
        .await
        .map_err(refusal)?;
    Ok(redirect(StatusCode::SEE_OTHER, PATH))
}
