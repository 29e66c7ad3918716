//! The server under test: the release binary, started as production runs it (`serve`, JSON
//! logs to a file, Twilio as its provider), and its memory read from `/proc`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::fake_twilio::ACCOUNT_SID;

/// The HS256 secret the bench's tokens are signed with.
pub const SECRET: &str = "bench-secret-bench-secret-bench-secret-0123456789";

pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    pub log: PathBuf,
    database_url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts `binary` on `database_url`, sending SMS to the fake Twilio at `twilio_url`.
    pub fn start(
        binary: &Path,
        dir: &Path,
        database_url: &str,
        twilio_url: &str,
    ) -> anyhow::Result<Self> {
        let log = dir.join("server.log");
        let stderr = std::fs::File::create(&log)?;
        let mut command = Command::new(binary);
        command
            .current_dir(dir)
            .arg("serve")
            .env_remove("MFA_TOTP_CONFIG")
            .env_remove("RUST_LOG")
            .envs(environment(database_url, twilio_url))
            .stdout(Stdio::null())
            .stderr(stderr);
        let child = command
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut server = Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            log,
            database_url: database_url.to_owned(),
        };
        let port = server.wait_for_port()?;
        server.addr.set_port(port);
        Ok(server)
    }

    fn wait_for_port(&mut self) -> anyhow::Result<u16> {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "the server exited ({status}): {}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            let text = std::fs::read_to_string(&self.log).unwrap_or_default();
            for line in text.lines() {
                let Ok(entry) = serde_json::from_str::<serde_json::Value>(line) else {
                    continue;
                };
                if entry["message"] == "mfa-totp listening"
                    && let Some(port) = entry["port"].as_u64()
                {
                    return Ok(port as u16);
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("the server did not log its port within 60 s")
    }

    /// The process's `VmRSS` (now) and `VmHWM` (its peak so far), in bytes.
    pub fn memory(&self) -> anyhow::Result<(u64, u64)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let field = |name: &str| -> anyhow::Result<u64> {
            let line = status
                .lines()
                .find(|l| l.starts_with(name))
                .with_context(|| format!("{name} in /proc/<pid>/status"))?;
            let kib: u64 = line[name.len()..]
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()?;
            Ok(kib * 1024)
        };
        Ok((field("VmRSS:")?, field("VmHWM:")?))
    }

    /// The CPU time the process has used so far, user and system, all its threads (from
    /// `/proc/<pid>/stat`, in clock ticks).
    pub fn cpu_time(&self) -> anyhow::Result<Duration> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))?;
        // The fields after the command name, which is in parentheses and may hold spaces.
        let after_name = stat.rsplit_once(')').context("/proc/<pid>/stat")?.1;
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
        let ticks: u64 = fields[11].parse::<u64>()? + fields[12].parse::<u64>()?;
        // SAFETY: sysconf reads a constant of the system.
        let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
        Ok(Duration::from_micros(ticks * 1_000_000 / per_second))
    }

    /// Samples `VmRSS` every 20 ms until the returned guard is stopped; its peak.
    pub fn watch_rss(self: &Arc<Self>) -> RssWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let server = self.clone();
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut peak = 0;
            while !flag.load(Ordering::Relaxed) {
                if let Ok((rss, _)) = server.memory() {
                    peak = peak.max(rss);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            peak
        });
        RssWatch { stop, thread }
    }
}

pub struct RssWatch {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<u64>,
}

impl RssWatch {
    pub fn peak(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("the RSS sampler")
    }
}

/// The assertion keys of the server's tests (`BENCH_ASSERTION_KEY`: `es256`, the default, or
/// `ed25519`).
const ASSERTION_KEY_ES256: &str = include_str!("../../server/testdata/assertion-k1.pem");
const ASSERTION_KEY_ED25519: &str = include_str!("../../server/testdata/assertion-k2-ed25519.pem");

/// Production settings, with every limit across challenges raised out of reach but still
/// charged (the bench sends thousands of codes a second, and each charge is a statement the
/// shipped service runs), and 100 wrong codes per challenge (so the wrong-code phase needs
/// fewer challenges). Everything else is the default.
fn environment(database_url: &str, twilio_url: &str) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = [
        ("MFA_TOTP__SERVER__PORT", "0"),
        ("MFA_TOTP__SERVER__LOG_FORMAT", "json"),
        ("MFA_TOTP__DATABASE__URL", database_url),
        ("MFA_TOTP__AUTH__HS256_SECRET", SECRET),
        ("MFA_TOTP__CRYPTO__ACTIVE_KEY_ID", "k1"),
        (
            "MFA_TOTP__CRYPTO__KEYS__K1",
            "YmVuY2gtYmVuY2gtYmVuY2gtYmVuY2gtYmVuY2gtMDE=",
        ),
        ("MFA_TOTP__SMS__PROVIDER", "twilio"),
        ("MFA_TOTP__SMS__TWILIO__BASE_URL", twilio_url),
        ("MFA_TOTP__SMS__TWILIO__ACCOUNT_SID", ACCOUNT_SID),
        (
            "MFA_TOTP__SMS__TWILIO__AUTH_TOKEN",
            "bench-token-3c9e71f0a2",
        ),
        ("MFA_TOTP__SMS__TWILIO__FROM", "+15005550006"),
        ("MFA_TOTP__CHALLENGE__MAX_FAILED_ATTEMPTS", "100"),
        ("MFA_TOTP__PURGE__INTERVAL_SECS", "0"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    // The assertion key `:verify` signs with; `BENCH_ASSERTION_KEY=none` leaves it out, for a
    // binary from before step-up assertions (whose config has no `assertion` section).
    match std::env::var("BENCH_ASSERTION_KEY").as_deref() {
        Ok("none") => {}
        kind => {
            let pem = match kind {
                Ok("ed25519") => ASSERTION_KEY_ED25519,
                _ => ASSERTION_KEY_ES256,
            };
            env.push(("MFA_TOTP__ASSERTION__ACTIVE_KEY_ID".into(), "a1".into()));
            env.push(("MFA_TOTP__ASSERTION__KEYS__A1".into(), pem.into()));
        }
    }
    for limit in [
        "USER_WRONG_CODES",
        "USER_CHALLENGES",
        "USER_SMS",
        "PHONE_SMS",
        "GLOBAL_SMS",
    ] {
        env.push((
            format!("MFA_TOTP__LIMITS__{limit}__MAX"),
            "1000000000".to_owned(),
        ));
    }
    env
}

/// `perf record -g` on the server during one phase, when `BENCH_PERF` names it.
pub struct Profile {
    perf: Child,
}

impl Profile {
    pub fn start_if_asked(server: &Server, phase: &str) -> anyhow::Result<Option<Self>> {
        let Ok(prefix) = std::env::var("BENCH_PERF") else {
            return Ok(None);
        };
        if prefix.is_empty() || !phase.starts_with(&prefix) {
            return Ok(None);
        }
        let engine = if server.database_url.starts_with("postgres") {
            "postgres"
        } else {
            "sqlite"
        };
        let name: String = phase
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let out = std::env::current_dir()?.join(format!("target/bench/{engine}-{name}.perf.data"));
        let perf = Command::new("perf")
            .args(["record", "-F", "1999", "-g", "-o"])
            .arg(&out)
            .args(["-p", &server.child.id().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("perf record (Debian's linux-perf)")?;
        eprintln!("perf record → {}", out.display());
        // perf attaches before the load starts.
        std::thread::sleep(Duration::from_millis(300));
        Ok(Some(Self { perf }))
    }

    pub fn stop(mut self) -> anyhow::Result<()> {
        // SAFETY: signals our own child, which is alive until waited for.
        unsafe { libc::kill(self.perf.id() as i32, libc::SIGINT) };
        self.perf.wait()?;
        Ok(())
    }
}
