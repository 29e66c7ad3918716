//! The figures of one run, and the Markdown report: every figure also as a ratio to the
//! ceiling of the same run, and the targets checked.

use std::fmt::Write;
use std::time::Duration;

use crate::external::DatabaseLimits;
use crate::load::Tally;

pub struct Phase {
    pub name: String,
    /// Answers with the expected status (for the whole flow: flows).
    ok: u64,
    unexpected: u64,
    first_unexpected: Option<String>,
    elapsed: Duration,
    /// Latency percentiles in µs: p50, p99, p99.9, max.
    percentiles: [u64; 4],
    peak_rss: u64,
    /// The server's CPU time (user and system) during the phase.
    cpu: Duration,
    /// Requests per counted item: 3 for the whole flow.
    pub per_item: u32,
}

const MIB: f64 = 1024.0 * 1024.0;

impl Phase {
    pub fn new(name: &str, tally: Tally, elapsed: Duration, peak_rss: u64, cpu: Duration) -> Self {
        let h = &tally.latencies;
        Self {
            name: name.to_owned(),
            ok: h.len(),
            unexpected: tally.unexpected,
            first_unexpected: tally.first_unexpected,
            elapsed,
            percentiles: [
                h.value_at_quantile(0.5),
                h.value_at_quantile(0.99),
                h.value_at_quantile(0.999),
                h.max(),
            ],
            peak_rss,
            cpu,
            per_item: 1,
        }
    }

    /// The server's CPU time per request answered, in µs (per flow for the whole flow).
    pub fn cpu_per_item(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / self.ok.max(1) as f64
    }

    pub fn ok(&self) -> u64 {
        self.ok
    }

    /// Requests per second with the expected answer.
    pub fn rate(&self) -> f64 {
        (self.ok * u64::from(self.per_item)) as f64 / self.elapsed.as_secs_f64()
    }

    pub fn line(&self) -> String {
        let [p50, p99, p999, _] = self.percentiles.map(ms);
        let mut line = format!(
            "{:<38} {:>9.0} req/s  p50 {p50:>7.2} ms  p99 {p99:>7.2} ms  p99.9 {p999:>7.2} ms  cpu {:>6.0} µs  rss {:>5.1} MiB  n={}",
            self.name,
            self.rate(),
            self.cpu_per_item(),
            self.peak_rss as f64 / MIB,
            self.ok
        );
        if self.unexpected > 0 {
            let _ = write!(
                line,
                "  UNEXPECTED {} (first: {})",
                self.unexpected,
                self.first_unexpected.as_deref().unwrap_or("")
            );
        }
        line
    }

    /// An error when any answer was not the expected one (set-up must be clean).
    pub fn require_clean(&self) -> anyhow::Result<()> {
        if self.unexpected > 0 {
            anyhow::bail!("{}", self.line());
        }
        Ok(())
    }
}

fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

pub struct Run {
    pub engine: String,
    /// The ceiling first.
    pub phases: Vec<Phase>,
    pub soak: Option<Phase>,
    pub served: u64,
    pub rss_after: u64,
    pub peak_rss: u64,
    pub sms_sent: u64,
    pub sms_refused: u64,
    pub errors_logged: usize,
    pub ceiling_by_wrk: Option<f64>,
}

impl Run {
    fn find(&self, prefix: &str) -> Option<&Phase> {
        self.phases.iter().find(|p| p.name.starts_with(prefix))
    }
}

fn title(engine: &str) -> &str {
    match engine {
        "sqlite" => "SQLite (file, WAL)",
        "postgres" => "PostgreSQL (local)",
        other => other,
    }
}

pub fn markdown(runs: &[Run], database: Option<&DatabaseLimits>, options: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Run: {options}.\n");
    if let Some(db) = database {
        let _ = writeln!(
            out,
            "`pgbench -M prepared -c16 -j2`: `-N` {:.0} tps, `-S` {:.0} tps.\n",
            db.write_tps, db.select_tps
        );
    }
    for run in runs {
        let ceiling = &run.phases[0];
        let _ = writeln!(out, "### {}\n", title(&run.engine));
        let _ = writeln!(
            out,
            "| what | req/s | × ceiling | server CPU µs/req | × ceiling's CPU | p50 ms | p99 ms | p99.9 ms | peak RSS MiB | × ceiling's RSS | unexpected |"
        );
        let _ = writeln!(
            out,
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        for phase in run.phases.iter().chain(&run.soak) {
            let [p50, p99, p999, _] = phase.percentiles.map(ms);
            let _ = writeln!(
                out,
                "| {} | {:.0} | {:.3} | {:.0} | {:.1} | {p50:.2} | {p99:.2} | {p999:.2} | {:.1} | {:.2} | {} |",
                phase.name,
                phase.rate(),
                phase.rate() / ceiling.rate(),
                phase.cpu_per_item() / f64::from(phase.per_item),
                phase.cpu_per_item() / f64::from(phase.per_item) / ceiling.cpu_per_item(),
                phase.peak_rss as f64 / MIB,
                phase.peak_rss as f64 / ceiling.peak_rss as f64,
                phase.unexpected,
            );
        }
        let _ = writeln!(out);
        if let Some(wrk) = run.ceiling_by_wrk {
            let _ = writeln!(
                out,
                "The ceiling by `wrk -t2` at the same connections: {wrk:.0} req/s ({:.2} × this generator's).",
                wrk / ceiling.rate()
            );
        }
        let _ = writeln!(
            out,
            "After {} requests: RSS {:.1} MiB, peak {:.1} MiB. SMS taken by the fake Twilio: {}, refused: {}. Error lines in the server's log: {}.\n",
            run.served,
            run.rss_after as f64 / MIB,
            run.peak_rss as f64 / MIB,
            run.sms_sent,
            run.sms_refused,
            run.errors_logged
        );
        let _ = writeln!(out, "{}", targets(run, database));
    }
    out
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "**missed**" }
}

fn targets(run: &Run, database: Option<&DatabaseLimits>) -> String {
    let ceiling = run.phases[0].rate();
    let cpu = |p: &Phase| p.cpu_per_item() / f64::from(p.per_item);
    let mut rows = Vec::new();
    let pgbench = database.filter(|_| run.engine == "postgres");
    if let Some(verify) = run.find(":verify right") {
        let p99 = ms(verify.percentiles[1]);
        match pgbench {
            Some(db) => rows.push(format!(
                "| `:verify` ≥ 1.0 × `pgbench -N` ({:.0} tps) | {:.0} req/s ({:.2} ×), p99 {p99:.2} ms, {:.0} µs CPU | {} |",
                db.write_tps,
                verify.rate(),
                verify.rate() / db.write_tps,
                cpu(verify),
                verdict(verify.rate() >= db.write_tps)
            )),
            None => rows.push(format!(
                "| `:verify` ≥ 1/3 of the ceiling, p99 < 10 ms | {:.3} of the ceiling, p99 {p99:.2} ms, {:.0} µs CPU | {} |",
                verify.rate() / ceiling,
                cpu(verify),
                verdict(verify.rate() * 3.0 >= ceiling && p99 < 10.0)
            )),
        }
    }
    if let Some(get) = run.find("GET challenge") {
        let share = if run.engine == "postgres" { 4.0 } else { 2.0 };
        rows.push(format!(
            "| `GET` of a challenge ≥ 1/{share} of the ceiling | {:.3}, {:.0} µs CPU | {} |",
            get.rate() / ceiling,
            cpu(get),
            verdict(get.rate() * share >= ceiling)
        ));
    }
    if let Some(flow) = run.find("whole flow") {
        // Requests of the flow per second: each is one change, as each of pgbench's
        // transactions is one.
        let rate = flow.rate();
        match pgbench {
            Some(db) => rows.push(format!(
                "| whole flow ≥ 0.5 × `pgbench -N` ({:.0} tps), in requests | {rate:.0} req/s ({:.2} ×), {:.0} µs CPU per request | {} |",
                db.write_tps,
                rate / db.write_tps,
                cpu(flow),
                verdict(rate * 2.0 >= db.write_tps)
            )),
            None => rows.push(format!(
                "| whole flow ≥ 0.1 of the ceiling, in requests | {:.3}, {:.0} µs CPU per request | {} |",
                rate / ceiling,
                cpu(flow),
                verdict(rate * 10.0 >= ceiling)
            )),
        }
    }
    rows.push(format!(
        "| peak RSS < 64 MiB after {} requests | {:.1} MiB | {} |",
        run.served,
        run.peak_rss as f64 / MIB,
        verdict(run.served >= 1_000_000 && (run.peak_rss as f64) < 64.0 * MIB)
    ));
    format!(
        "| target | measured | |\n|---|---|---|\n{}\n",
        rows.join("\n")
    )
}
