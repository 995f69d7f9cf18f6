//! `portico`: run the server, apply migrations, or create an admin API key.

#![allow(clippy::print_stdout)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use directory::{Actor, Ctx, Directory, SystemClock};
use gateway::config::Settings;
use gateway::startup::Application;

/// Portico: enterprise single sign-on and provisioning.
#[derive(Debug, Parser)]
#[command(name = "portico", version, about)]
struct Cli {
    /// TOML configuration file (optional; environment variables PORTICO__SECTION__KEY override it).
    #[arg(long, global = true, env = "PORTICO_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Apply migrations and serve the console and APIs (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage admin API keys.
    #[command(subcommand)]
    ApiKey(ApiKeyCommand),
    /// Copy the SQLite database to a new file, consistent while Portico serves (PostgreSQL:
    /// use pg_dump).
    Backup {
        /// The file to write; it must not exist yet.
        #[arg(long, value_name = "PATH")]
        to: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum ApiKeyCommand {
    /// Create a key and print it once.
    Create(CreateKey),
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
struct Scope {
    /// A key for the whole platform (operator rights).
    #[arg(long)]
    operator: bool,
    /// A key limited to one enterprise, by its key.
    #[arg(long, value_name = "KEY")]
    enterprise: Option<String>,
}

#[derive(Debug, Args)]
struct CreateKey {
    #[command(flatten)]
    scope: Scope,
    /// What the key is for, shown in listings and the audit log.
    #[arg(long, default_value = "created with the portico command line")]
    description: String,
}

fn open_directory(settings: &Settings) -> anyhow::Result<Directory> {
    let directory = connect_waiting(settings).with_context(|| "cannot open the database (database.url)")?;
    let applied = directory.migrate().context("cannot apply database migrations")?;
    for version in applied {
        tracing::info!(version, "applied migration");
    }
    Ok(directory)
}

/// Connects to the database. An unreachable PostgreSQL is tried again every two seconds for up
/// to `database.wait_secs`, with a log line each time, since in a container deployment it may
/// still be starting; SQLite is opened at once.
fn connect_waiting(settings: &Settings) -> Result<Directory, directory::DirectoryError> {
    let started = Instant::now();
    loop {
        match Directory::connect(&settings.database_url, settings.pool_size, Arc::new(SystemClock)) {
            Ok(directory) => return Ok(directory.with_job_settings(settings.job_settings())),
            Err(e @ directory::DirectoryError::Unavailable(_))
                if settings.database_url.starts_with("postgres") && started.elapsed() < settings.database_wait =>
            {
                let left = settings.database_wait.saturating_sub(started.elapsed()).as_secs();
                tracing::warn!(error = %e, seconds_left = left, "waiting for the database");
                std::thread::sleep(Duration::from_secs(2));
            }
            Err(e) => return Err(e),
        }
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::load(cli.config.as_deref())?;
    gateway::telemetry::init_logging(&settings);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings),
        Command::Migrate => {
            open_directory(&settings)?;
            println!("The database is up to date.");
            Ok(())
        }
        Command::Backup { to } => {
            let directory = connect_waiting(&settings).context("cannot open the database (database.url)")?;
            directory.backup_sqlite(&to).with_context(|| format!("cannot back up to {}", to.display()))?;
            println!("Backed up to {}. Restore by pointing database.url at a copy of it.", to.display());
            Ok(())
        }
        Command::ApiKey(ApiKeyCommand::Create(args)) => {
            let directory = open_directory(&settings)?;
            let actor = Actor::System;
            let created = directory
                .create_api_key(&Ctx::new(&actor, None), args.scope.enterprise.as_deref(), &args.description)
                .context("cannot create the API key")?;
            println!("{}", created.token);
            eprintln!(
                "This admin API key ({}) is shown only now. Send it as `Authorization: Bearer <key>`.",
                match &created.info.enterprise_key {
                    Some(k) => format!("enterprise {k}"),
                    None => "operator".into(),
                }
            );
            Ok(())
        }
    }
}

fn serve(settings: Settings) -> anyhow::Result<()> {
    let directory = open_directory(&settings)?;
    let first_operator = directory.issue_first_operator_link().context("cannot prepare the first operator link")?;
    actix_web::rt::System::new().block_on(async move {
        let bind = settings.bind;
        let app = Application::build(settings, directory)
            .with_context(|| format!("cannot listen on {bind} (server.bind)"))?;
        let public = app.public_url().to_owned();
        tracing::info!(bind = %bind, port = app.port(), public_url = %public, "Portico is listening");
        println!("Portico is running at {public}");
        if let Some(token) = first_operator {
            let link = format!("{}/setup/{token}", public.trim_end_matches('/'));
            println!(
                "No operator exists yet. Create the first one within {} minutes at:\n  {link}",
                directory::setup::FIRST_OPERATOR_TTL_MINUTES
            );
        }
        app.run_until_stopped().await.context("the server stopped with an error")
    })
}
