//! `/access-refused`: why a relying party did not admit the signed-in account.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::services::access::{self, RefusedQuery};
use crate::startup::AppState;
use crate::web::cookies;
use crate::web::errors::PageError;
use crate::web::views::access::refused_page;

pub use crate::services::access::REFUSED_PATH as PATH_REFUSED;

pub async fn get_access_refused(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<RefusedQuery>,
) -> Result<HttpResponse, PageError> {
    let session = cookies::session_value(&req, state.cfg.secure_cookies);
    let view = access::explain(&state, session, query.into_inner())
        .await?
        .ok_or_else(|| {
            PageError::bad_request(
                "This page is shown after signing in to an application. Go back to the application and sign in again. \
                 / アプリケーションに戻ってもう一度ログインしてください。",
            )
        })?;
    let status = if view.refusal.is_some() {
        StatusCode::FORBIDDEN
    } else {
        StatusCode::OK
    };
    Ok(HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type("text/html; charset=utf-8")
        .body(refused_page(&view).into_string()))
}
