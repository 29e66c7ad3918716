//! The `mfa-totp` command line.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::settings::Settings;
use crate::startup::{Application, Overrides};

#[derive(Debug, Parser)]
#[command(
    name = "mfa-totp",
    version,
    about = "Step-up MFA with a TOTP code sent by SMS"
)]
pub struct Cli {
    /// A config file (TOML); environment variables MFA_TOTP__SECTION__KEY override it.
    #[arg(long, global = true, env = "MFA_TOTP_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API (the default).
    Serve,
    /// Apply the database migrations and exit.
    Migrate,
    /// Print the OpenAPI document.
    Openapi,
    /// SMS tools: `sms test --to +447700900123` sends one test message through the
    /// configured chain and prints what happened at each provider.
    Sms {
        #[command(subcommand)]
        command: SmsCommand,
    },
    /// Mint a bearer token with the configured HS256 secret, for local use.
    Token {
        /// The token's subject (the user id).
        #[arg(long)]
        sub: String,
        /// A scope to grant; repeat for several.
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// Lifetime in seconds (default: auth.token_ttl_secs).
        #[arg(long)]
        ttl_secs: Option<u64>,
    },
}

#[derive(Debug, Subcommand)]
pub enum SmsCommand {
    /// Send one test message through the configured chain.
    Test {
        /// The E.164 number to send to.
        #[arg(long)]
        to: String,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Openapi => {
            print!("{}", crate::startup::published_spec().await?);
            Ok(())
        }
        Command::Token {
            sub,
            scopes,
            ttl_secs,
        } => {
            let settings = Settings::load(cli.config.as_deref())?;
            let auth = &settings.auth;
            if auth.public_key_pem.is_some() {
                anyhow::bail!(
                    "auth.public_key_pem is set: tokens come from your identity provider, not from mfa-totp token"
                );
            }
            let (secret, development) = auth.hs256_secret();
            if development {
                eprintln!(
                    "warning: minting with the PUBLIC DEVELOPMENT SECRET (no auth.hs256_secret configured)"
                );
            }
            let token = crate::auth::mint_hs256(
                &secret,
                &auth.issuer,
                &auth.audience,
                &sub,
                &scopes,
                ttl_secs.unwrap_or(auth.token_ttl_secs),
            )?;
            println!("{token}");
            Ok(())
        }
        Command::Sms {
            command: SmsCommand::Test { to },
        } => {
            let settings = Settings::load(cli.config.as_deref())?;
            crate::startup::install_crypto_provider();
            for line in crate::sms::send_test(&settings.sms, &to).await? {
                println!("{line}");
            }
            Ok(())
        }
        Command::Migrate => {
            let settings = Settings::load(cli.config.as_deref())?;
            crate::telemetry::init(settings.server.log_format);
            crate::startup::migrate(&settings).await?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::Serve => {
            let settings = Settings::load(cli.config.as_deref())?;
            crate::telemetry::init(settings.server.log_format);
            let app = Application::build(&settings, Overrides::default()).await?;
            app.run_until_stopped().await.context("server failed")
        }
    }
}
