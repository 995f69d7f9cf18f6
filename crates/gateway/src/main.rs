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
    /// Manage the host product's applications (Portico is their OpenID Provider).
    #[command(subcommand)]
    App(AppCommand),
    /// Manage the OpenID Provider's ID token signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Manage where applications receive events (Standard Webhooks).
    #[command(subcommand)]
    Webhook(WebhookCommand),
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

#[derive(Debug, Subcommand)]
enum AppCommand {
    /// Register an application; prints its client id and, once, its secret.
    Create(CreateApp),
    /// List the registered applications.
    List,
    /// Replace an application's client secret (the old one stops working) and print the new one.
    RotateSecret {
        /// The application's client id.
        client_id: String,
    },
    /// Remove an application and every token it holds.
    Delete {
        /// The application's client id.
        client_id: String,
    },
}

#[derive(Debug, Args)]
struct CreateApp {
    /// The name people see when they sign in.
    #[arg(long)]
    name: String,
    /// A redirect URI (repeat for several); compared exactly.
    #[arg(long = "redirect-uri", required = true, value_name = "URI")]
    redirect_uris: Vec<String>,
    /// A page RP-initiated logout may return to (repeatable).
    #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
    post_logout_redirect_uris: Vec<String>,
    /// Where Portico sends back-channel logout tokens.
    #[arg(long, value_name = "URI")]
    backchannel_logout_uri: Option<String>,
    /// Where IdP-initiated sign-ins start the application's own sign-in.
    #[arg(long, value_name = "URI")]
    initiate_login_uri: Option<String>,
    /// A public application (no secret, PKCE required).
    #[arg(long)]
    public: bool,
    /// An enterprise key the application may sign people in from (repeatable; default: all).
    #[arg(long = "enterprise", value_name = "KEY")]
    enterprises: Vec<String>,
    /// ID token signing algorithm: RS256 (default) or ES256.
    #[arg(long, value_name = "ALG")]
    id_token_alg: Option<String>,
}

#[derive(Debug, Subcommand)]
enum WebhookCommand {
    /// Add an endpoint to an application; prints its id and, once, its signing secret.
    Create {
        /// The application's client id.
        client_id: String,
        /// Where events are POSTed (https://, or http:// to localhost).
        #[arg(long)]
        url: String,
        /// An event kind or `family.*` to send (repeatable; default: every kind).
        #[arg(long = "event", value_name = "KIND")]
        events: Vec<String>,
        /// What the endpoint is for.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List an application's endpoints.
    List {
        /// The application's client id.
        client_id: String,
    },
    /// Give an endpoint a new signing secret (the previous one keeps signing beside it for
    /// `webhooks.secret_overlap_hours`) and print it.
    RotateSecret {
        /// The application's client id.
        client_id: String,
        /// The endpoint's id.
        id: String,
    },
    /// Remove an endpoint and its delivery log.
    Delete {
        /// The application's client id.
        client_id: String,
        /// The endpoint's id.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Start signing with the published next key, keep the current one published as the
    /// previous, and publish a new next key (every algorithm).
    Rotate,
    /// Replace every signing key with new ones, at once. For keys sealed with a lost secret key:
    /// tokens signed before no longer verify, so applications sign people in again.
    Reset,
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
        Command::App(cmd) => app_command(&settings, cmd),
        Command::Webhook(cmd) => webhook_command(&settings, cmd),
        Command::Keys(KeysCommand::Rotate) => {
            let directory = open_directory(&settings)?;
            for (alg, outcome) in
                gateway::app::provider::rotate_keys(&directory, &settings).context("cannot rotate the signing keys")?
            {
                println!(
                    "{}: {}",
                    alg.as_str(),
                    match outcome {
                        directory::provider::Rotation::Rotated => "rotated; the new key signs from now on",
                        directory::provider::Rotation::Raced => "another instance rotated at the same moment",
                        directory::provider::Rotation::NotDue => "not due",
                    }
                );
            }
            eprintln!("Running instances pick up the new keys within 30 seconds.");
            Ok(())
        }
        Command::Keys(KeysCommand::Reset) => {
            let directory = open_directory(&settings)?;
            gateway::app::provider::reset_keys(&directory, &settings).context("cannot replace the signing keys")?;
            println!("Every ID token signing key was replaced; tokens signed before no longer verify.");
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

fn app_command(settings: &Settings, cmd: AppCommand) -> anyhow::Result<()> {
    use directory::host_application::{EnterpriseScope, NewHostApplication};
    let directory = open_directory(settings)?;
    let actor = Actor::System;
    let ctx = Ctx::new(&actor, None);
    match cmd {
        AppCommand::Create(a) => {
            let created = directory
                .create_host_application(
                    &ctx,
                    NewHostApplication {
                        name: a.name,
                        public: a.public,
                        redirect_uris: a.redirect_uris,
                        post_logout_redirect_uris: a.post_logout_redirect_uris,
                        backchannel_logout_uri: a.backchannel_logout_uri,
                        initiate_login_uri: a.initiate_login_uri,
                        enterprises: if a.enterprises.is_empty() {
                            EnterpriseScope::All
                        } else {
                            EnterpriseScope::Only(a.enterprises)
                        },
                        id_token_alg: a.id_token_alg,
                        access_token_ttl_secs: None,
                        id_token_ttl_secs: None,
                        refresh_token_ttl_secs: None,
                    },
                )
                .context("cannot register the application")?;
            println!("client_id={}", created.application.client_id);
            if let Some(secret) = created.client_secret {
                println!("client_secret={secret}");
                eprintln!("The client secret is shown only now; Portico keeps a hash of it.");
            }
            eprintln!("Issuer (discovery at /.well-known/openid-configuration): {}", settings.issuer());
        }
        AppCommand::List => {
            for app in directory.list_host_applications(&ctx)? {
                println!(
                    "{}\t{}\t{}\t{}",
                    app.client_id,
                    if app.public { "public" } else { "confidential" },
                    app.name,
                    app.redirect_uris.join(" ")
                );
            }
        }
        AppCommand::RotateSecret { client_id } => {
            let secret =
                directory.rotate_host_application_secret(&ctx, &client_id).context("cannot rotate the secret")?;
            println!("client_secret={secret}");
            eprintln!("The old secret stopped working; this one is shown only now.");
        }
        AppCommand::Delete { client_id } => {
            directory.delete_host_application(&ctx, &client_id).context("cannot delete the application")?;
            eprintln!("Deleted {client_id} and every token it held.");
        }
    }
    Ok(())
}

fn webhook_command(settings: &Settings, cmd: WebhookCommand) -> anyhow::Result<()> {
    use directory::webhook::NewWebhook;
    use gateway::deliveries::{SECRET_PURPOSE, new_secret};
    let directory = open_directory(settings)?;
    let actor = Actor::System;
    let ctx = Ctx::new(&actor, None);
    let sealed_secret = || -> anyhow::Result<(String, String)> {
        let secret = new_secret()?;
        let sealed = gateway::secrets::seal(settings, SECRET_PURPOSE, secret.as_bytes())?;
        Ok((secret, sealed))
    };
    match cmd {
        WebhookCommand::Create { client_id, url, events, description } => {
            let events = if events.is_empty() { vec!["*".to_owned()] } else { events };
            let (secret, sealed) = sealed_secret()?;
            let made = directory
                .create_webhook(&ctx, &client_id, &NewWebhook { url, description, events, enabled: true }, &sealed)
                .context("cannot add the endpoint")?;
            println!("id={}", made.id);
            println!("secret={secret}");
            eprintln!("The signing secret is shown only now; verify deliveries with any Standard Webhooks library.");
        }
        WebhookCommand::List { client_id } => {
            for e in directory.webhooks(&ctx, &client_id)? {
                let state = match (&e.enabled, &e.disabled_reason) {
                    (true, _) => "enabled".to_owned(),
                    (false, Some(why)) => format!("disabled by Portico: {why}"),
                    (false, None) => "disabled".to_owned(),
                };
                println!("{}	{}	{}	{}", e.id, e.url, e.events.join(","), state);
            }
        }
        WebhookCommand::RotateSecret { client_id, id } => {
            let (secret, sealed) = sealed_secret()?;
            let e = directory
                .rotate_webhook_secret(&ctx, &client_id, &id, &sealed, settings.webhook_secret_overlap)
                .context("cannot rotate the secret")?;
            println!("secret={secret}");
            if let Some(until) = e.previous_secret_expires_at {
                eprintln!("The previous secret keeps signing beside this one until {until} UTC.");
            }
        }
        WebhookCommand::Delete { client_id, id } => {
            directory.delete_webhook(&ctx, &client_id, &id).context("cannot delete the endpoint")?;
            eprintln!("Deleted endpoint {id} and its delivery log.");
        }
    }
    Ok(())
}

fn serve(settings: Settings) -> anyhow::Result<()> {
    let directory = open_directory(&settings)?;
    let first_operator = directory.issue_first_operator_link().context("cannot prepare the first operator link")?;
    // The OpenID Provider's signing keys exist (and are rotated when due) before the first
    // request. Keys sealed with another secret key (a restore without secret.key) stop only the
    // OpenID Provider, which says why at each request; everything else serves.
    if let Err(e) = gateway::app::provider::load_key_set(&directory, &settings) {
        tracing::error!(error = %e, "the OpenID Provider cannot sign: restore the secret key that sealed its keys, or replace them with `portico keys reset`");
    }
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
