//! `uec-idp account create|show|list`.

use clap::Subcommand;
use serde_json::json;

use super::{CliError, Context};
use crate::domain::account::Account;
use crate::services::accounts::{self, AccountDetails, NewAccount};
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
    /// Show one account.
    Show {
        #[arg(long)]
        id: String,
    },
    /// List every account.
    List,
}

pub fn run(ctx: &Context, cmd: AccountCommand) -> Result<(), CliError> {
    let db = ctx.database()?;
    match cmd {
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
