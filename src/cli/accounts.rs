//! `uec-idp account create|import|show|list|flag-password|reissue-password`.

use clap::Subcommand;
use serde_json::json;

use super::{CliError, Context};
use crate::domain::account::Account;
use crate::services::accounts::{self, AccountDetails, NewAccount};
use crate::services::reissue;
use crate::startup;

#[derive(Subcommand, Debug)]
pub enum AccountCommand {
    /// Issue an account; prints the generated initial password unless --password is given.
    Create {
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: String,
        /// student | graduate | faculty | staff | nondegree | limited_staff
        #[arg(long)]
        affiliation: String,
        /// Personal e-mail address the notice is sent to.
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        password: Option<String>,
        /// Last day of validity (YYYY-MM-DD, Japan time).
        #[arg(long, value_name = "YYYY-MM-DD")]
        valid_until: Option<String>,
        /// Issue an ID outside the canonical form (one letter and 7 digits).
        #[arg(long)]
        allow_nonstandard_id: bool,
        /// The e-mail alias name@uec.ac.jp (unique across all accounts).
        #[arg(long, value_name = "ALIAS")]
        email_alias: Option<String>,
        /// Progression: the old account this one succeeds; its alias moves here.
        #[arg(long, value_name = "OLD_ID")]
        previous: Option<String>,
    },
    /// Issue the accounts of a roster (CSV: id,name,affiliation,valid_until,email) and
    /// their notices: mailed to personal addresses, the rest on printable pages.
    Import {
        roster: std::path::PathBuf,
        /// Where the printable notices go (default: notices-<time>.html here).
        #[arg(long)]
        notices: Option<std::path::PathBuf>,
    },
    /// Show one account.
    Show {
        #[arg(long)]
        id: String,
    },
    /// List every account.
    List,
    /// Flag the account's password as weak: the owner must change it within --days.
    FlagPassword {
        #[arg(long)]
        id: String,
        /// Days the owner has to change it (default: passwords.weak_change_days).
        #[arg(long)]
        days: Option<i64>,
    },
    /// Desk reissue (the ID card was checked): prints a temporary password, valid 30 days
    /// or the shorter --expires-in; ends every session and sign-in of the account.
    ReissuePassword {
        #[arg(long)]
        id: String,
        /// Days the temporary password stays valid (1-30, default 30).
        #[arg(long, value_name = "DAYS", allow_negative_numbers = true)]
        expires_in: Option<i64>,
    },
}

pub fn run(ctx: &Context, cmd: AccountCommand) -> Result<(), CliError> {
    if let AccountCommand::Import { roster, notices } = cmd {
        return super::import::run(ctx, &roster, notices);
    }
    let db = ctx.database()?;
    match cmd {
        // Import opens what it needs itself (a hashing pool per core, the mailer).
        AccountCommand::Import { .. } => {}
        AccountCommand::Create {
            id,
            name,
            affiliation,
            email,
            password,
            valid_until,
            allow_nonstandard_id,
            email_alias,
            previous,
        } => {
            let mut settings = ctx.settings.clone();
            // One hashing thread is plenty for one account.
            settings.passwords.hashing_threads = 1;
            let hasher = startup::hashing_pool(&settings, &ctx.cfg)?;
            let new = NewAccount {
                id,
                allow_nonstandard_id,
                name,
                affiliation,
                personal_email: email,
                password,
                valid_until,
                email_alias,
                previous,
            };
            let created = accounts::create_account(
                &db,
                &hasher,
                new,
                ctx.clock.now(),
                &accounts::IssuePolicy::from_settings(&settings),
            )
            .map_err(|e| CliError::Failed(e.to_string()))?;
            let mut value = account_json(&created.account);
            value["password_expires_at"] = json!(created.password_expires_at);
            if let Some(p) = &created.generated_password {
                value["initial_password"] = json!(p);
            }
            ctx.print(value, || {
                let mut text = format!("created {}", created.account.id);
                if let Some(p) = &created.generated_password {
                    text.push_str(&format!("\ninitial password: {p}"));
                }
                text
            });
        }
        AccountCommand::Show { id } => {
            let details = accounts::show_account(&db, &id)
                .map_err(|e| CliError::Failed(e.to_string()))?
                .ok_or_else(|| CliError::Failed(format!("no account {id}")))?;
            let mut value = account_json(&details.account);
            value["successors"] = json!(details.successors);
            ctx.print(value, || show_text(&details));
        }
        AccountCommand::FlagPassword { id, days } => {
            let days = days.unwrap_or(ctx.settings.passwords.weak_change_days);
            if !(0..=365).contains(&days) {
                return Err(CliError::Failed("--days: must be between 0 and 365".into()));
            }
            let deadline = accounts::flag_password(&db, &id, days, ctx.clock.now())
                .map_err(|e| CliError::Failed(e.to_string()))?
                .ok_or_else(|| CliError::Failed(format!("no account {id}")))?;
            let date = chrono::DateTime::from_timestamp(deadline, 0)
                .map_or_else(String::new, |t| t.format("%Y-%m-%d %H:%M UTC").to_string());
            ctx.print(json!({ "id": id, "change_by": deadline }), || {
                format!("{id}: password must be changed by {date}")
            });
        }
        AccountCommand::ReissuePassword { id, expires_in } => {
            let mut settings = ctx.settings.clone();
            settings.passwords.hashing_threads = 1;
            let hasher = startup::hashing_pool(&settings, &ctx.cfg)?;
            let done = reissue::reissue_at_desk(&db, &hasher, &id, expires_in, ctx.clock.now())
                .map_err(|e| CliError::Failed(e.to_string()))?;
            let expires = chrono::DateTime::from_timestamp(done.expires_at, 0)
                .map(|t| t.to_rfc3339())
                .unwrap_or_default();
            ctx.print(
                json!({
                    "id": done.account.id.as_str(),
                    "temporary_password": done.password,
                    "password_expires_at": done.expires_at,
                    "sessions_ended": done.ended.sessions,
                    "grants_revoked": done.ended.grants,
                }),
                || {
                    format!(
                        "reissued {}\ntemporary password: {}\nexpires: {expires}\n{} sessions and {} grants ended",
                        done.account.id, done.password, done.ended.sessions, done.ended.grants
                    )
                },
            );
        }
        AccountCommand::List => {
            let all = accounts::list_accounts(&db).map_err(|e| CliError::Failed(e.to_string()))?;
            ctx.print(
                json!(all.iter().map(account_json).collect::<Vec<_>>()),
                || all.iter().map(account_line).collect::<Vec<_>>().join("\n"),
            );
        }
    }
    Ok(())
}

fn account_json(a: &Account) -> serde_json::Value {
    json!({
        "id": a.id.as_str(),
        "sub": a.sub,
        "name": a.name,
        "affiliation": a.affiliation.as_str(),
        "personal_email": a.personal_email,
        "email_alias": a.email_alias,
        "valid_until": a.valid_until,
        "status": a.status.as_str(),
        "created_at": a.created_at,
        "previous": a.previous_account_id.as_ref().map(|p| p.as_str()),
        "pledge_completed_at": a.pledge_completed_at,
        "infoss_completed_at": a.infoss_completed_at,
    })
}

fn show_text(d: &AccountDetails) -> String {
    let a = &d.account;
    let date = |t: Option<i64>| t.map_or_else(|| "-".to_string(), jst_date);
    let mut lines = vec![
        format!("id:              {}", a.id),
        format!("name:            {}", a.name),
        format!("affiliation:     {}", a.affiliation.as_str()),
        format!("status:          {}", a.status.as_str()),
        format!("valid until:     {}", date(a.valid_until.map(|t| t - 1))),
        format!(
            "e-mail alias:    {}",
            a.email_alias.as_deref().unwrap_or("-")
        ),
        format!("pledge:          {}", date(a.pledge_completed_at)),
        format!("INFOSS:          {}", date(a.infoss_completed_at)),
    ];
    if let Some(p) = &a.previous_account_id {
        lines.push(format!("previous:        {p}"));
    }
    if !d.successors.is_empty() {
        lines.push(format!("successors:      {}", d.successors.join(", ")));
    }
    lines.join("\n")
}

/// A Unix time as its date in Japan.
fn jst_date(t: i64) -> String {
    chrono::DateTime::from_timestamp(t + 9 * 3600, 0)
        .map_or_else(|| t.to_string(), |d| d.format("%Y-%m-%d").to_string())
}

fn account_line(a: &Account) -> String {
    format!(
        "{}\t{}\t{}\t{}",
        a.id,
        a.affiliation.as_str(),
        a.status.as_str(),
        a.name
    )
}
