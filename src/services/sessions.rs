//! Browser sessions as the account pages see them.

use crate::domain::account::Account;
use crate::secrets;
use crate::services::ServiceError;
use crate::services::second_factor::{self, Entry};
use crate::startup::AppState;
use crate::store::login_flows::{self, FlowStage, LoginFlow};
use crate::store::second_factors;
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

/// Opens a step-up for the account pages: the signed-in person adds a second factor to a
/// password-only session (now used from off campus); the session is raised under a new
/// id. The flow is bound to this browser (its flow-binding cookie `binding`) and to this
/// session.
pub async fn start_step_up(
    state: &AppState,
    cookie_value: String,
    binding: &str,
    account: Account,
    amr: Vec<String>,
) -> Result<(String, Entry), ServiceError> {
    let now = state.clock.now();
    let mut flow = LoginFlow::new(
        secrets::new_token(),
        None,
        now + state.settings.tokens.login_flow_ttl,
        secrets::hash_token(binding),
    );
    flow.stage = FlowStage::SecondFactor;
    flow.account_id = Some(account.id.to_string());
    flow.amr = amr;
    flow.session_hash = Some(secrets::hash_token(&cookie_value));
    let flow_id = flow.id.clone();
    let account_id = account.id.to_string();
    let methods = state
        .db
        .write(move |conn| {
            login_flows::insert_flow(conn, &flow, now)?;
            Ok::<_, ServiceError>(second_factors::methods(conn, &account_id)?)
        })
        .await?;
    let entry = second_factor::enter(state, &account, &methods).await?;
    Ok((flow_id, entry))
}
