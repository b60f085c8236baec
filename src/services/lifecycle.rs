//! One lifecycle pass: reminders before deletion, then deletion after the grace period.
//! Runs inside `serve` on a schedule and from `uec-idp lifecycle run` (cron). Idempotent and
//! safe with several servers on one database: a reminder is claimed (a unique row) before
//! its mail goes out, and deletion only proceeds for the one transaction that flips the
//! account from active to deleted.

use chrono::{DateTime, FixedOffset};

use crate::config::Settings;
use crate::domain::account::Account;
use crate::domain::lifecycle::{self, GraceMonths};
use crate::mail::{Mailer, messages};
use crate::services::ServiceError;
use crate::services::backchannel_logout::enqueue_touched;
use crate::store::audit::{self, AuditEvent};
use crate::store::{Db, lifecycle as store, write_tx};

#[derive(Clone, Debug)]
pub struct LifecyclePolicy {
    pub grace: GraceMonths,
    pub reminder_days: Vec<i64>,
    pub mailbox_domain: String,
}

impl LifecyclePolicy {
    pub fn from_settings(settings: &Settings) -> Self {
        let l = &settings.lifecycle;
        Self {
            grace: GraceMonths {
                students: l.grace_months_students,
                faculty_and_staff: l.grace_months_faculty_staff,
                non_degree_and_limited_term: l.grace_months_non_degree,
            },
            reminder_days: l.reminder_days.iter().copied().filter(|d| *d > 0).collect(),
            mailbox_domain: settings.accounts.mailbox_domain.clone(),
        }
    }
}

#[derive(Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct PassReport {
    pub reminded: usize,
    pub deleted: usize,
    /// Reminders whose mail could not be sent (retried at the next pass).
    pub unsent: usize,
}

pub async fn run_pass(
    db: &Db,
    mailer: &Mailer,
    policy: &LifecyclePolicy,
    now: i64,
) -> Result<PassReport, ServiceError> {
    let horizon = policy.reminder_days.iter().copied().max().unwrap_or(0);
    // An account can be due only if its end is within the longest reminder period: the
    // grace period only moves deletion later.
    let candidates = db
        .run(move |conn| Ok::<_, ServiceError>(store::ending_before(conn, now + horizon * 86_400)?))
        .await?;
    let mut report = PassReport::default();
    for account in candidates {
        let Some(deletion_at) = lifecycle::deletion_at(&account, policy.grace) else {
            continue;
        };
        if now >= deletion_at {
            if delete(db, &account, now).await? {
                report.deleted += 1;
            }
        } else if let Some(days) = lifecycle::due_reminder(deletion_at, now, &policy.reminder_days)
        {
            match remind(db, mailer, policy, &account, deletion_at, days, now).await? {
                Reminder::Sent => report.reminded += 1,
                Reminder::Unsent => report.unsent += 1,
                Reminder::AlreadySent => {}
            }
        }
    }
    if report != PassReport::default() {
        tracing::info!(
            reminded = report.reminded,
            deleted = report.deleted,
            unsent = report.unsent,
            "lifecycle pass"
        );
    }
    Ok(report)
}

async fn delete(db: &Db, account: &Account, now: i64) -> Result<bool, ServiceError> {
    let id = account.id.to_string();
    db.run(move |conn| {
        write_tx(conn, |conn| {
            // Read before the deletion ends the sessions and grants it is about.
            let touched = crate::store::grants::touched_by_account(conn, &id, now)?;
            let deleted = store::delete_account(conn, &id, now)?;
            if deleted {
                enqueue_touched(conn, &touched, "account_deleted", now)?;
                audit::record(
                    conn,
                    AuditEvent {
                        at: now,
                        kind: "account_deleted",
                        account_id: Some(&id),
                        detail: Some("end of validity and grace period".into()),
                        ..Default::default()
                    },
                )?;
            }
            Ok::<_, ServiceError>(deleted)
        })
    })
    .await
}

enum Reminder {
    Sent,
    Unsent,
    AlreadySent,
}

/// Sends the `days`-before reminder once. Reminders for longer periods that were skipped
/// (the account was first seen later) are claimed too, so they never go out late.
async fn remind(
    db: &Db,
    mailer: &Mailer,
    policy: &LifecyclePolicy,
    account: &Account,
    deletion_at: i64,
    days: i64,
    now: i64,
) -> Result<Reminder, ServiceError> {
    let id = account.id.to_string();
    let longer: Vec<i64> = policy
        .reminder_days
        .iter()
        .copied()
        .filter(|d| *d > days)
        .collect();
    let claimed = db
        .run(move |conn| {
            let claimed = write_tx(conn, |conn| store::claim_reminder(conn, &id, days, now))?;
            if claimed {
                for d in longer {
                    write_tx(conn, |conn| store::claim_reminder(conn, &id, d, now))?;
                }
            }
            Ok::<_, ServiceError>(claimed)
        })
        .await?;
    if !claimed {
        return Ok(Reminder::AlreadySent);
    }
    let left = (deletion_at - now + 86_399) / 86_400;
    let date = jst_date(deletion_at);
    let mut addresses = vec![account.email(&policy.mailbox_domain)];
    addresses.extend(account.personal_email.clone());
    let mut failed = false;
    for address in &addresses {
        let mail = messages::deletion_reminder(account.id.as_str(), &date, left).to(address);
        if let Err(e) = mailer.send(mail).await {
            tracing::error!(account = %account.id, error = %e, "deletion reminder not sent");
            failed = true;
        }
    }
    if failed {
        let id = account.id.to_string();
        db.run(move |conn| {
            Ok::<_, ServiceError>(write_tx(conn, |conn| {
                store::release_reminder(conn, &id, days)
            })?)
        })
        .await?;
        return Ok(Reminder::Unsent);
    }
    Ok(Reminder::Sent)
}

fn jst_date(unix: i64) -> String {
    let jst = FixedOffset::east_opt(9 * 3600);
    match (DateTime::from_timestamp(unix, 0), jst) {
        (Some(t), Some(jst)) => t.with_timezone(&jst).format("%Y-%m-%d").to_string(),
        _ => unix.to_string(),
    }
}
