//! The audit log: security-relevant events, append-only. Never holds a secret.

use diesel::prelude::*;

use super::schema::audit_events;
use super::{DbConnection, StoreResult};

#[derive(Debug, Default, Insertable)]
#[diesel(table_name = audit_events)]
pub struct AuditEvent<'a> {
    pub at: i64,
    pub kind: &'a str,
    pub account_id: Option<&'a str>,
    pub client_id: Option<&'a str>,
    pub ip: Option<String>,
    pub detail: Option<String>,
}

pub fn record(conn: &mut DbConnection, event: AuditEvent<'_>) -> StoreResult<()> {
    diesel::insert_into(audit_events::table)
        .values(event)
        .execute(conn)?;
    Ok(())
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = audit_events)]
pub struct AuditRow {
    pub at: i64,
    pub kind: String,
    pub account_id: Option<String>,
    pub client_id: Option<String>,
    pub detail: Option<String>,
}

/// The newest events first.
pub fn recent(conn: &mut DbConnection, limit: i64) -> StoreResult<Vec<AuditRow>> {
    Ok(audit_events::table
        .order(audit_events::id.desc())
        .limit(limit)
        .select(AuditRow::as_select())
        .load(conn)?)
}

/// Records `kind` about an account, with a detail line (the common case).
pub fn record_account_event(
    conn: &mut DbConnection,
    now: i64,
    kind: &str,
    account_id: &str,
    detail: &str,
) -> StoreResult<()> {
    record(
        conn,
        AuditEvent {
            at: now,
            kind,
            account_id: Some(account_id),
            detail: Some(detail.to_string()),
            ..Default::default()
        },
    )
}
