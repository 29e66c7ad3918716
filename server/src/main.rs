use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    limit_malloc_arenas();
    serve()
}

/// glibc gives each thread that allocates its own arena, up to eight per core, and keeps what
/// they free: under load the eleven SQLite connection threads and the runtime's workers grew
/// the server by 11 MiB over a million requests (BENCHMARKS.md). Two arenas held it at the
/// same throughput. `MALLOC_ARENA_MAX` in the environment still decides when it is set.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets a malloc tunable; it runs before any other thread exists.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}

#[tokio::main]
async fn serve() -> ExitCode {
    let cli = mfa_totp_server::cli::Cli::parse();
    match mfa_totp_server::cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
