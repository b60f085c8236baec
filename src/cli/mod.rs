//! The command line (INTERFACE.md): `serve`, `migrate`, and the admin commands, each a
//! thin mapping onto a service. `--json` prints machine-readable output on stdout; errors
//! go to stderr with a non-zero exit code.

mod accounts;
mod clients;
mod compliance;
mod import;
mod keys;
mod lifecycle;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::clock::{Clock, SystemClock};
use crate::config::{ConfigError, Settings, Validated};
use crate::startup::{self, Application};
use crate::store::Db;

#[derive(Parser, Debug)]
#[command(
    name = "uec-idp",
    version,
    about = "OpenID Connect identity provider for UEC accounts"
)]
pub struct Cli {
    /// Configuration file (default: ./uec-idp.toml if present, else embedded defaults).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Machine-readable output on stdout.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Start the provider.
    Serve,
    /// Apply pending database migrations.
    Migrate,
    /// Issue and inspect UEC accounts.
    #[command(subcommand)]
    Account(accounts::AccountCommand),
    /// Register and list relying parties.
    #[command(subcommand)]
    Client(clients::ClientCommand),
    /// Record pledge and INFOSS completions.
    #[command(subcommand)]
    Compliance(compliance::ComplianceCommand),
    /// Manage signing keys.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Account lifecycle: deletion reminders and deletions.
    #[command(subcommand)]
    Lifecycle(lifecycle::LifecycleCommand),
}

/// What a command failed with; printed as one line on stderr.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Failed(String),
}

/// Shared by the commands: settings, their validated form, and how to print.
pub(crate) struct Context {
    pub settings: Settings,
    pub cfg: Validated,
    pub json: bool,
    pub clock: Arc<dyn Clock>,
}

impl Context {
    pub fn database(&self) -> Result<Db, CliError> {
        let db = Db::connect_for_command(&self.cfg.database)
            .map_err(|e| ConfigError::new("database_url", e))?;
        Ok(startup::migrated(db)?)
    }

    /// Prints `value` as JSON, or `text` for people.
    pub fn print(&self, value: serde_json::Value, text: impl FnOnce() -> String) {
        if self.json {
            println!("{value}");
        } else {
            println!("{}", text());
        }
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    crate::telemetry::init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), CliError> {
    let settings = Settings::load(cli.config.as_deref())?;
    let cfg = settings.validate()?;
    let ctx = Context {
        settings,
        cfg,
        json: cli.json,
        clock: Arc::new(SystemClock),
    };
    match cli.command {
        Command::Serve => serve(ctx),
        Command::Migrate => {
            let db = Db::connect_for_command(&ctx.cfg.database)
                .map_err(|e| ConfigError::new("database_url", e))?;
            let applied = db
                .migrate()
                .map_err(|e| ConfigError::new("database_url", e))?;
            ctx.print(serde_json::json!({ "applied": applied }), || {
                format!("{applied} migration(s) applied")
            });
            Ok(())
        }
        Command::Account(cmd) => accounts::run(&ctx, cmd),
        Command::Client(cmd) => clients::run(&ctx, cmd),
        Command::Compliance(cmd) => compliance::run(&ctx, cmd),
        Command::Keys(cmd) => keys::run(&ctx, cmd),
        Command::Lifecycle(cmd) => lifecycle::run(&ctx, cmd),
    }
}

fn serve(ctx: Context) -> Result<(), CliError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(async move {
        let app = Application::build(ctx.settings.clone(), None, ctx.clock.clone()).await?;
        tracing::info!(issuer = %ctx.cfg.issuer, port = app.port(), "uec-idp listening");
        app.run_until_stopped()
            .await
            .map_err(|e| CliError::Failed(format!("server stopped: {e}")))?;
        tracing::info!("uec-idp stopped");
        Ok(())
    })
}
