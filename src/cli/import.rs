//! `uec-idp account import ROSTER.csv`: bulk issue at entrance (DOMAIN.md "Issue").
//!
//! The roster has a header row and the columns `id,name,affiliation,valid_until,email`
//! (`valid_until` `YYYY-MM-DD` or empty; `email` a personal address or empty). Every row is
//! checked by the same rules as `account create`; a bad row is reported with its line
//! number and the others are issued. An ID already issued is skipped, so running the same
//! roster twice issues nothing twice. Each new account gets its notice: by mail when it has
//! a personal address, else on a printable page (one account per page) written to
//! `--notices`; a notice whose mail fails goes on the printed page instead.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;
use serde_json::json;

use super::{CliError, Context};
use crate::mail::{AccountNotice, Mailer, messages};
use crate::services::accounts::{self, AccountError, CreatedAccount, IssuePolicy, NewAccount};
use crate::startup;

#[derive(Debug, Deserialize)]
struct RosterRow {
    id: String,
    name: String,
    affiliation: String,
    #[serde(default)]
    valid_until: String,
    #[serde(default)]
    email: String,
}

/// One issued account and its notice.
struct Issued {
    created: CreatedAccount,
    password: String,
    expires: String,
}

pub fn run(ctx: &Context, roster: &Path, notices: Option<PathBuf>) -> Result<(), CliError> {
    let db = ctx.database()?;
    let hasher = startup::hashing_pool(&ctx.settings, &ctx.cfg)?;
    let mailer = Mailer::from_settings(&ctx.settings.mail)?;
    let policy = IssuePolicy::from_settings(&ctx.settings);
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(roster)
        .map_err(|e| CliError::Failed(format!("{}: {e}", roster.display())))?;
    let rows: Vec<(u64, Result<RosterRow, csv::Error>)> = reader
        .deserialize()
        .map(|r: Result<RosterRow, csv::Error>| {
            let line = match &r {
                Ok(_) => 0,
                Err(e) => e.position().map_or(0, |p| p.line()),
            };
            (line, r)
        })
        .collect();
    let progress = ProgressBar::new(rows.len() as u64).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let (mut issued, mut skipped, mut bad) = (Vec::new(), 0usize, Vec::new());
    let now = ctx.clock.now();
    for (index, (csv_line, row)) in rows.into_iter().enumerate() {
        progress.inc(1);
        // Line numbers count the header as line 1.
        let line = if csv_line > 0 {
            csv_line
        } else {
            index as u64 + 2
        };
        let row = match row {
            Ok(row) => row,
            Err(e) => {
                bad.push(format!("line {line}: {}", csv_problem(&e)));
                continue;
            }
        };
        let new = NewAccount {
            id: row.id,
            name: row.name,
            affiliation: row.affiliation,
            personal_email: Some(row.email).filter(|e| !e.is_empty()),
            valid_until: Some(row.valid_until).filter(|v| !v.is_empty()),
            ..Default::default()
        };
        match accounts::create_account(&db, &hasher, new, now, &policy) {
            Ok(created) => {
                let password = created.generated_password.clone().unwrap_or_default();
                let expires = jst_last_day(created.password_expires_at);
                issued.push(Issued {
                    created,
                    password,
                    expires,
                });
            }
            Err(AccountError::Duplicate(_)) => skipped += 1,
            Err(AccountError::Invalid(reason)) => {
                bad.push(format!("line {line}: {}", reason.replace("--", "")))
            }
            Err(e) => {
                progress.abandon();
                return Err(CliError::Failed(format!("line {line}: {e}")));
            }
        }
    }
    progress.finish_and_clear();

    let (mailed, paper) = send_notices(ctx, &mailer, &issued)?;
    let notices_file = match paper.is_empty() {
        true => None,
        false => {
            let path = notices.unwrap_or_else(|| PathBuf::from(format!("notices-{now}.html")));
            write_private(&path, &notice_pages(&paper, &ctx.cfg.issuer).into_string())?;
            Some(path)
        }
    };
    for problem in &bad {
        eprintln!("{problem}");
    }
    let summary = json!({
        "issued": issued.len(),
        "already_issued": skipped,
        "bad_rows": bad,
        "mailed_notices": mailed,
        "printed_notices": paper.len(),
        "notices_file": notices_file.as_ref().map(|p| p.display().to_string()),
    });
    ctx.print(summary, || {
        let mut text = format!(
            "{} issued, {skipped} already issued, {} bad rows; {mailed} notices mailed, {} to print",
            issued.len(),
            bad.len(),
            paper.len()
        );
        if let Some(path) = &notices_file {
            text.push_str(&format!("\nprintable notices: {}", path.display()));
        }
        text
    });
    if bad.is_empty() {
        Ok(())
    } else {
        Err(CliError::Failed(format!(
            "{} bad rows (the others were issued)",
            bad.len()
        )))
    }
}

fn csv_problem(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => {
            format!(
                "{len} columns, expected {expected_len} (id,name,affiliation,valid_until,email)"
            )
        }
        csv::ErrorKind::Deserialize { err, .. } => err.to_string(),
        csv::ErrorKind::Utf8 { .. } => "not UTF-8".into(),
        _ => e.to_string(),
    }
}

/// Mails the notices of accounts with a personal address; returns how many went and the
/// notices left to print (no address, or the mail failed).
fn send_notices<'a>(
    ctx: &Context,
    mailer: &Mailer,
    issued: &'a [Issued],
) -> Result<(usize, Vec<&'a Issued>), CliError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(format!("cannot start the runtime: {e}")))?;
    let (mut mailed, mut paper) = (0, Vec::new());
    for account in issued {
        let Some(address) = &account.created.account.personal_email else {
            paper.push(account);
            continue;
        };
        let mail = messages::account_notice(&notice(account, &ctx.cfg.issuer)).to(address);
        match runtime.block_on(mailer.send(mail)) {
            Ok(()) => mailed += 1,
            Err(e) => {
                tracing::error!(account = %account.created.account.id, error = %e, "notice not mailed; printed instead");
                paper.push(account);
            }
        }
    }
    Ok((mailed, paper))
}

fn notice<'a>(account: &'a Issued, issuer: &'a str) -> AccountNotice<'a> {
    AccountNotice {
        account: account.created.account.id.as_str(),
        name: &account.created.account.name,
        password: &account.password,
        expires: &account.expires,
        issuer,
    }
}

/// One page per account, for the ITC desk to print and hand out.
fn notice_pages(paper: &[&Issued], issuer: &str) -> Markup {
    html! {
        (DOCTYPE)
        html lang="ja" {
            head {
                meta charset="utf-8";
                title { "UEC アカウント通知 / UEC account notices" }
                style { "section { page-break-after: always; font-family: sans-serif; } .secret { font-family: monospace; font-size: 1.4em; }" }
            }
            body {
                @for account in paper {
                    @let n = notice(account, issuer);
                    section {
                        h1 { "UEC アカウントのお知らせ / Your UEC account" }
                        p { (n.name) " 様" }
                        dl {
                            dt { "UEC アカウント / Account ID" } dd.secret { (n.account) }
                            dt { "初期パスワード / Initial password" } dd.secret { (n.password) }
                        }
                        p { "初期パスワードは " (n.expires) " まで有効です。ログインしてパスワードを変更してください。 / The initial password is valid until " (n.expires) ". Sign in and change it at " (issuer) "/account/password." }
                        p { "学外から使う前に、学内ネットワーク（または VPN）から 2 段階認証を設定してください: " (issuer) "/account / Before using it off campus, set up two-factor authentication from the campus network or VPN." }
                    }
                }
            }
        }
    }
}

/// Written owner-only: the pages carry initial passwords.
fn write_private(path: &Path, contents: &str) -> Result<(), CliError> {
    let failed = |e: std::io::Error| CliError::Failed(format!("{}: {e}", path.display()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(failed)?;
    file.write_all(contents.as_bytes()).map_err(failed)
}

/// The last day an initial password works, in Japan time.
fn jst_last_day(expires_at: i64) -> String {
    chrono::DateTime::from_timestamp(expires_at - 1 + 9 * 3600, 0)
        .map_or_else(String::new, |t| t.format("%Y-%m-%d").to_string())
}
