//! `uec-idp keys rotate|list`.

use clap::Subcommand;
use serde_json::json;

use super::{CliError, Context};
use crate::oidc::keys::KeySet;
use crate::startup::key_retention_secs;

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Add a new RS256 and ES256 key; older keys stay published until their tokens expired.
    Rotate,
    /// List the published keys.
    List,
}

pub fn run(ctx: &Context, cmd: KeysCommand) -> Result<(), CliError> {
    let dir = &ctx.settings.keys_dir;
    let retain = key_retention_secs(&ctx.settings);
    let now = ctx.clock.now();
    let failed = |e: crate::oidc::keys::KeyError| CliError::Failed(e.to_string());
    match cmd {
        KeysCommand::Rotate => {
            let added = KeySet::rotate(dir, retain, now).map_err(failed)?;
            let value = json!(
                added
                    .iter()
                    .map(|(alg, kid)| json!({"alg": alg.as_str(), "kid": kid}))
                    .collect::<Vec<_>>()
            );
            ctx.print(json!({ "added": value }), || {
                added
                    .iter()
                    .map(|(alg, kid)| format!("added {} key {kid}", alg.as_str()))
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        KeysCommand::List => {
            let keys = KeySet::load(dir, retain, now).map_err(failed)?;
            let published = keys.published();
            ctx.print(
                json!(published.iter().map(|(alg, kid, created)| json!({"alg": alg.as_str(), "kid": kid, "created_at": created})).collect::<Vec<_>>()),
                || {
                    published
                        .iter()
                        .map(|(alg, kid, created)| format!("{}\t{kid}\t{created}", alg.as_str()))
                        .collect::<Vec<_>>()
                        .join("\n")
                },
            );
        }
    }
    Ok(())
}
