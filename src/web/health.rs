//! Liveness and static assets.

use crate::startup::AppState;
use crate::store;
use actix_web::{HttpResponse, web};

/// 200 when the database answers, 503 otherwise.
pub async fn get_healthz(state: web::Data<AppState>) -> HttpResponse {
    let ping = state.db.run(store::ping).await;
    match ping {
        Ok(()) => HttpResponse::Ok().json(serde_json::json!({"status": "ok"})),
        Err(e) => {
            tracing::warn!(error = %e, "health check failed");
            HttpResponse::ServiceUnavailable()
                .json(serde_json::json!({"status": "database unavailable"}))
        }
    }
}

const STYLESHEET: &str = include_str!("../../templates/style.css");

pub async fn get_stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .content_type("text/css; charset=utf-8")
        .body(STYLESHEET)
}
