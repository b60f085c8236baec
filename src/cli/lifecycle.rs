//! `uec-idp lifecycle run`: one pass of deletion reminders and deletions (for cron; `serve`
//! also runs it on a schedule). Safe to run while servers run the same pass.

use clap::Subcommand;

use super::{CliError, Context};
use crate::mail::Mailer;
use crate::services::lifecycle::{LifecyclePolicy, run_pass};

#[derive(Subcommand, Debug)]
pub enum LifecycleCommand {
    /// Send the reminders that are due and delete the accounts past their grace period.
    Run,
}

pub fn run(ctx: &Context, cmd: LifecycleCommand) -> Result<(), CliError> {
    match cmd {
        LifecycleCommand::Run => {
            let db = ctx.database()?;
            let mailer = Mailer::from_settings(&ctx.settings.mail)?;
            let policy = LifecyclePolicy::from_settings(&ctx.settings);
            let now = ctx.clock.now();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| CliError::Failed(format!("cannot start the runtime: {e}")))?;
            let report = runtime
                .block_on(run_pass(&db, &mailer, &policy, now))
                .map_err(|e| CliError::Failed(e.to_string()))?;
            ctx.print(serde_json::json!(report), || {
                format!(
                    "{} reminded, {} deleted, {} reminders not sent (retried next time)",
                    report.reminded, report.deleted, report.unsent
                )
            });
            if report.unsent > 0 {
                return Err(CliError::Failed(format!(
                    "{} reminders could not be sent",
                    report.unsent
                )));
            }
            Ok(())
        }
    }
}
