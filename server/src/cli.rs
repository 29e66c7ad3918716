//! The `mfa-totp` command line.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use secrecy::ExposeSecret;

use crate::settings::{DEVELOPMENT_HS256_SECRET, Mode, Settings};
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
    match cli.command.unwrap_or(Command::Serve { dev: false }) {
        Command::Openapi => {
            print!("{}", crate::startup::published_spec().await?);
            Ok(())
        }
        Command::Token {
            dev,
            sub,
            scopes,
            ttl_secs,
        } => {
            let settings = Settings::load(cli.config.as_deref())?;
            let auth = &settings.auth;
            if auth.public_key_pem.is_some() || auth.jwks_url.is_some() {
                anyhow::bail!(
                    "auth.public_key_pem or auth.jwks_url is set: tokens come from your identity provider, not from mfa-totp token"
                );
            }
            let ttl_secs = ttl_secs.unwrap_or(auth.token_ttl_secs);
            if ttl_secs > auth.max_token_lifetime_secs {
                anyhow::bail!(
                    "--ttl-secs {ttl_secs} exceeds auth.max_token_lifetime_secs ({}): the service would refuse the token",
                    auth.max_token_lifetime_secs
                );
            }
            let secret = match (&auth.hs256_secret, dev) {
                (Some(secret), _) => secret.expose_secret().as_bytes().to_vec(),
                (None, true) => {
                    eprintln!(
                        "warning: minting with the PUBLIC DEVELOPMENT SECRET (no auth.hs256_secret configured)"
                    );
                    DEVELOPMENT_HS256_SECRET.as_bytes().to_vec()
                }
                (None, false) => anyhow::bail!(
                    "no auth.hs256_secret configured (MFA_TOTP__AUTH__HS256_SECRET); \
                     pass --dev to sign with the public development secret of `serve --dev`"
                ),
            };
            let token = crate::auth::mint_hs256(
                &secret,
                &auth.issuer,
                &auth.audience,
                &sub,
                &scopes,
                ttl_secs,
            )?;
            println!("{token}");
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
            let settings = Settings::load(cli.config.as_deref())?;
            print!(
                "{}",
                render_preview(&settings, &operation, locale.as_deref(), attributes)?
            );
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
        Command::Purge => {
            let settings = Settings::load(cli.config.as_deref())?;
            crate::telemetry::init(settings.server.log_format);
            let purged = crate::startup::purge(&settings).await?;
            println!(
                "purged {} challenges, {} audit events, {} limit windows",
                purged.challenges, purged.audit_events, purged.limit_windows
            );
            Ok(())
        }
        Command::Config {
            command: ConfigCommand::Check { dev },
        } => {
            let mode = if dev {
                Mode::Development
            } else {
                Mode::Production
            };
            let checked = crate::config_check::check(cli.config.as_deref(), mode);
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
                None => {
                    let settings = Settings::load(cli.config.as_deref())?;
                    let host = match settings.server.host.as_str() {
                        "0.0.0.0" | "::" | "[::]" => "127.0.0.1",
                        host => host,
                    };
                    format!("http://{host}:{}/health/ready", settings.server.port)
                }
            };
            crate::startup::install_crypto_provider();
            let response = reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(timeout_secs))
                .build()?
                .get(&url)
                .send()
                .await
                .with_context(|| format!("{url} did not answer"))?;
            let status = response.status();
            if status.is_success() {
                println!("{url}: {status}");
                Ok(())
            } else {
                anyhow::bail!(
                    "{url}: {status} {}",
                    response.text().await.unwrap_or_default()
                )
            }
        }
        Command::Migrate => {
            let settings = Settings::load(cli.config.as_deref())?;
            crate::telemetry::init(settings.server.log_format);
            crate::startup::migrate(&settings).await?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::Serve { dev } => {
            let mode = if dev {
                Mode::Development
            } else {
                Mode::Production
            };
            let (settings, filled) = Settings::load(cli.config.as_deref())?.for_mode(mode)?;
            crate::telemetry::init_with(
                settings.server.log_format,
                settings.telemetry.otlp_endpoint.as_deref(),
            )?;
            if mode == Mode::Development {
                development_banner(&filled);
            }
            let app = Application::build(&settings, Overrides::default()).await?;
            let served = app.run_until_stopped().await.context("server failed");
            // The exporter blocks while it flushes: off the async workers.
            tokio::task::spawn_blocking(crate::telemetry::shutdown).await?;
            served
        }
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

/// `sms render`: the message, then its locale, encoding and segments.
fn render_preview(
    settings: &Settings,
    operation: &str,
    locale: Option<&str>,
    attributes: Vec<(String, String)>,
) -> anyhow::Result<String> {
    let catalog = crate::messages::catalog(&settings.sms)?;
    let operation = mfa_totp_domain::Operation::parse(operation)
        .map_err(|e| anyhow::anyhow!("--operation {e}"))?;
    let locale = locale
        .map(mfa_totp_domain::Locale::parse)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--locale {e}"))?;
    let attributes: serde_json::Map<String, serde_json::Value> = attributes
        .into_iter()
        .map(|(name, value)| (name, serde_json::Value::String(value)))
        .collect();
    let problems = catalog.check_attributes(&operation, &attributes);
    if let Some((name, problem)) = problems.first() {
        anyhow::bail!("--attr {name} {problem} (this operation's SMS shows it)");
    }
    let code: String = "123456789"
        .chars()
        .take(settings.challenge.otp_digits.into())
        .collect();
    let minutes = (i64::from(settings.challenge.code_ttl_secs) / 60).max(1);
    let sms = catalog.render(&code, minutes, &operation, &attributes, locale.as_ref());
    Ok(format!(
        "{}\n---\nlocale: {}\nencoding: {}\nsegments: {} ({} {})\n",
        sms.text,
        sms.locale,
        sms.cost.encoding.as_str(),
        sms.cost.segments,
        sms.cost.units,
        match sms.cost.encoding {
            mfa_totp_domain::Encoding::Gsm7 => "septets",
            mfa_totp_domain::Encoding::Ucs2 => "UTF-16 units",
        }
    ))
}
