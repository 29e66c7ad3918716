//! The `mfa-totp` command line: its arguments, and which command runs with which
//! configuration. Each command's body lives in `commands/` (and `serve` in `app/`).

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::app::{Application, Overrides};
use crate::commands::token::TokenRequest;
use crate::commands::{healthcheck, migrate, purge, sms, token};
use crate::config::{Config, Mode};

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
    /// Serve the API (the default). Production mode unless `--dev`: start-up refuses a
    /// missing or development token key or encryption key, and console SMS.
    Serve {
        /// Development mode: fill in what is not configured with PUBLIC development keys
        /// and console SMS. Never in production.
        #[arg(long)]
        dev: bool,
    },
    /// Apply the database migrations and exit.
    Migrate,
    /// Delete what outlived its retention (purge.*) now, in batches, and exit. Safe while
    /// instances run: they purge on their own every purge.interval_secs.
    Purge,
    /// Configuration tools: `config check` validates it and prints the effective values.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Probe a running instance's readiness (for container health checks): exit 0 when it
    /// answers 200, 1 otherwise.
    Healthcheck {
        /// What to probe; default: http://<server.host>:<server.port>/health/ready.
        #[arg(long)]
        url: Option<String>,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 3)]
        timeout_secs: u64,
    },
    /// Print the OpenAPI document.
    Openapi,
    /// SMS tools: `sms test --to +447400123123` sends one test message through the
    /// configured chain and prints what happened at each provider.
    Sms {
        #[command(subcommand)]
        command: SmsCommand,
    },
    /// Mint a bearer token with the configured HS256 secret, for local use.
    Token {
        /// Sign with the public development secret when no auth.hs256_secret is configured
        /// (for a server started with `serve --dev`).
        #[arg(long)]
        dev: bool,
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
pub enum ConfigCommand {
    /// Check the configuration (file and environment) as `serve` would, without the network
    /// or the database: print the effective values with secrets redacted, then each problem;
    /// exit 1 when there is one.
    Check {
        /// Check as `serve --dev` would (development keys may be filled in).
        #[arg(long)]
        dev: bool,
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
    /// Print the SMS an operation's challenge would send, with a placeholder code: the
    /// text, its encoding and its segments.
    Render {
        /// The operation, e.g. `payments.transfer`.
        #[arg(long)]
        operation: String,
        /// The locale (BCP 47); default: sms.default_locale.
        #[arg(long)]
        locale: Option<String>,
        /// A context attribute, `name=value`; repeat for several.
        #[arg(long = "attr", value_parser = parse_attribute)]
        attributes: Vec<(String, String)>,
    },
}

fn parse_attribute(raw: &str) -> Result<(String, String), String> {
    raw.split_once('=')
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .ok_or_else(|| format!("'{raw}' is not name=value"))
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let file = cli.config.as_deref();
    match cli.command.unwrap_or(Command::Serve { dev: false }) {
        Command::Openapi => {
            print!("{}", crate::app::published_spec()?);
            Ok(())
        }
        Command::Token {
            dev,
            sub,
            scopes,
            ttl_secs,
        } => {
            let config = Config::load(file)?;
            let request = TokenRequest {
                dev,
                sub,
                scopes,
                ttl_secs,
            };
            println!("{}", token::mint(&config.settings.auth, &request)?);
            Ok(())
        }
        Command::Sms {
            command:
                SmsCommand::Render {
                    operation,
                    locale,
                    attributes,
                },
        } => {
            let config = Config::load(file)?;
            let preview = sms::render_preview(&config, &operation, locale.as_deref(), attributes)?;
            print!("{preview}");
            Ok(())
        }
        Command::Sms {
            command: SmsCommand::Test { to },
        } => {
            let config = Config::load(file)?;
            mfa_totp_http::install_crypto_provider();
            for line in sms::send_test(&config.settings.sms, &to).await? {
                println!("{line}");
            }
            Ok(())
        }
        Command::Purge => {
            let config = Config::load(file)?;
            crate::telemetry::init(config.settings.server.log_format);
            let purged = purge::purge(&config).await?;
            println!(
                "purged {} challenges, {} audit events, {} limit windows",
                purged.challenges, purged.audit_events, purged.limit_windows
            );
            Ok(())
        }
        Command::Config {
            command: ConfigCommand::Check { dev },
        } => {
            let checked = crate::config::check(file, mode(dev));
            if let Some(effective) = &checked.effective {
                println!("effective configuration (secrets redacted):\n{effective}");
            }
            if checked.problems.is_empty() {
                println!("configuration OK");
                Ok(())
            } else {
                for problem in &checked.problems {
                    eprintln!("problem: {problem}");
                }
                anyhow::bail!("{} configuration problem(s)", checked.problems.len())
            }
        }
        Command::Healthcheck { url, timeout_secs } => {
            let url = match url {
                Some(url) => url,
                None => healthcheck::ready_url(&Config::load(file)?.settings.server),
            };
            let timeout = std::time::Duration::from_secs(timeout_secs);
            println!("{}", healthcheck::probe(&url, timeout).await?);
            Ok(())
        }
        Command::Migrate => {
            let config = Config::load(file)?;
            crate::telemetry::init(config.settings.server.log_format);
            migrate::migrate(&config.settings.database).await?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::Serve { dev } => {
            let (config, filled) = Config::load(file)?.for_mode(mode(dev))?;
            let settings = &config.settings;
            crate::telemetry::init_with(
                settings.server.log_format,
                settings.telemetry.otlp_endpoint.as_deref(),
            )?;
            if dev {
                development_banner(&filled);
            }
            let app = Application::build(&config, Overrides::default()).await?;
            let served = app.run_until_stopped().await.context("server failed");
            // The exporter blocks while it flushes: off the async workers.
            tokio::task::spawn_blocking(crate::telemetry::shutdown).await?;
            served
        }
    }
}

fn mode(dev: bool) -> Mode {
    if dev {
        Mode::Development
    } else {
        Mode::Production
    }
}

/// The banner of `serve --dev`: on stderr, whatever the log format, and as one log line.
fn development_banner(filled: &[&str]) {
    let public = if filled.is_empty() {
        "nothing: every key is configured".to_owned()
    } else {
        filled.join(", ")
    };
    let rule = "!".repeat(78);
    eprintln!(
        "{rule}\n!!! DEVELOPMENT MODE (serve --dev): NOT FOR PRODUCTION\n\
         !!! Filled in with PUBLIC development values: {public}\n\
         !!! Anyone who reads this project's source can mint tokens for this instance.\n{rule}"
    );
    tracing::warn!(
        filled = %public,
        "development mode: public development keys and console SMS fill in what is not configured"
    );
}
