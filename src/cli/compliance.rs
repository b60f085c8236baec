//! `uec-idp compliance import FILE.csv`: records pledge / INFOSS completions.

use std::path::PathBuf;

use clap::Subcommand;
use serde_json::json;

use super::{CliError, Context};
use crate::services::compliance::{self, ImportError};

#[derive(Subcommand, Debug)]
pub enum ComplianceCommand {
    /// Record completions from a CSV file with the header
    /// `id,pledge_completed,infoss_completed` (dates YYYY-MM-DD, Japan time; either may be
    /// empty). Bad rows are reported on stderr with their line numbers; the others are
    /// recorded. Safe to run again: a recorded date never moves backwards.
    Import {
        #[arg(value_name = "FILE.csv")]
        file: PathBuf,
    },
}

pub fn run(ctx: &Context, cmd: ComplianceCommand) -> Result<(), CliError> {
    match cmd {
        ComplianceCommand::Import { file } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| CliError::Failed(format!("cannot read {}: {e}", file.display())))?;
            let db = ctx.database()?;
            let report = compliance::import(&db, &text, ctx.clock.now()).map_err(|e| match e {
                ImportError::Header => CliError::Failed(format!("{}: {e}", file.display())),
                ImportError::Service(e) => CliError::Failed(e.to_string()),
            })?;
            for bad in &report.refused {
                eprintln!("{}:{}: {}", file.display(), bad.line, bad.message);
            }
            let refused: Vec<_> = report
                .refused
                .iter()
                .map(|e| json!({ "line": e.line, "error": e.message }))
                .collect();
            ctx.print(
                json!({
                    "rows": report.rows,
                    "recorded": report.recorded,
                    "unchanged": report.unchanged,
                    "refused": refused,
                }),
                || {
                    format!(
                        "{} row(s): {} recorded, {} unchanged, {} refused",
                        report.rows,
                        report.recorded,
                        report.unchanged,
                        report.refused.len()
                    )
                },
            );
            if !report.refused.is_empty() {
                return Err(CliError::Failed(format!(
                    "{} row(s) refused (see above); the other rows were recorded",
                    report.refused.len()
                )));
            }
        }
    }
    Ok(())
}
