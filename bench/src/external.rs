//! The programs beside the bench: `psql` for a fresh database, `pgbench` for PostgreSQL's
//! own limits on this machine, and `wrk` (when installed) to check that the bench's own load
//! generator is not what limits the ceiling.

use std::net::SocketAddr;
use std::process::Command;

use anyhow::{Context, bail};

/// `pgbench -M prepared -c16 -j2` on its own database: `-N` (its simple write transaction,
/// one commit each) and `-S` (select only), in transactions per second.
pub struct DatabaseLimits {
    pub write_tps: f64,
    pub select_tps: f64,
}

/// `url` with its database name replaced by `name`.
fn on_database(url: &str, name: &str) -> anyhow::Result<String> {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let slash = base
        .rfind('/')
        .filter(|&i| i > "postgres://".len())
        .with_context(|| format!("a database name at the end of {url}"))?;
    let mut out = format!("{}/{name}", &base[..slash]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    Ok(out)
}

fn run(command: &mut Command) -> anyhow::Result<String> {
    let output = command
        .output()
        .with_context(|| format!("running {command:?}"))?;
    if !output.status.success() {
        bail!(
            "{command:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Drops and creates database `name` on the server of `url`; the new database's URL.
pub fn fresh_database(url: &str, name: &str) -> anyhow::Result<String> {
    run(Command::new("psql").args([
        url,
        "-qc",
        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    ]))?;
    run(Command::new("psql").args([url, "-qc", &format!("CREATE DATABASE {name}")]))?;
    on_database(url, name)
}

fn tps(output: &str) -> anyhow::Result<f64> {
    let line = output
        .lines()
        .find(|l| l.starts_with("tps = "))
        .with_context(|| format!("no tps line in pgbench's output: {output}"))?;
    line["tps = ".len()..]
        .split_whitespace()
        .next()
        .context("a number after tps =")?
        .parse()
        .context("tps")
}

pub fn pgbench(url: &str, secs: u64) -> anyhow::Result<DatabaseLimits> {
    let db = fresh_database(url, "mfa_totp_pgbench")?;
    eprintln!("== pgbench -i -s 10");
    run(Command::new("pgbench").args(["-i", "-q", "-s", "10", &db]))?;
    let secs = secs.to_string();
    let measure = |mode: &str| -> anyhow::Result<f64> {
        let out = run(Command::new("pgbench").args([
            mode, "-M", "prepared", "-c", "16", "-j", "2", "-T", &secs, &db,
        ]))?;
        let tps = tps(&out)?;
        eprintln!("pgbench {mode}: {tps:.0} tps");
        Ok(tps)
    };
    let write_tps = measure("-N")?;
    let select_tps = measure("-S")?;
    run(Command::new("psql").args([
        url,
        "-qc",
        "DROP DATABASE IF EXISTS mfa_totp_pgbench WITH (FORCE)",
    ]))?;
    Ok(DatabaseLimits {
        write_tps,
        select_tps,
    })
}

/// `wrk -t2` on `/health/live` at the bench's connection count: its requests per second, when
/// `wrk` is installed.
pub fn wrk_ceiling(addr: SocketAddr, connections: usize, secs: u64) -> Option<f64> {
    let output = Command::new("wrk")
        .args([
            "-t2",
            &format!("-c{connections}"),
            &format!("-d{secs}s"),
            &format!("http://{addr}/health/live"),
        ])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text.lines().find(|l| l.starts_with("Requests/sec:"))?;
    line["Requests/sec:".len()..].trim().parse().ok()
}
