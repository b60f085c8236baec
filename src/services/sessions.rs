//! Browser sessions as the account pages see them.

use crate::domain::account::Account;
use crate::secrets;
use crate::services::ServiceError;
use crate::startup::AppState;
use crate::store::sessions::{self, BrowserSession};

/// The live session behind a session cookie's value, with its account.
pub async fn current(
    state: &AppState,
    cookie_value: String,
) -> Result<Option<(BrowserSession, Account)>, ServiceError> {
    let now = state.clock.now();
    let hash = secrets::hash_token(&cookie_value);
    state
        .db
        .run(move |conn| Ok(sessions::find_session(conn, &hash, now)?))
        .await
}
