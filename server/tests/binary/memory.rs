//! Memory per connection is bounded before any token is checked: the finding was 250
//! connections each sending 400 KiB of one unfinished header line, which grew the server from
//! 48 to 151 MB in 2 s, past the Kubernetes manifest's 128 Mi limit. `server.max_header_bytes`
//! (16 KiB) bounds each connection's read buffer; a longer head is answered 431.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::start;

/// The peak and current resident set of process `pid`, in KiB (`VmHWM`, `VmRSS`).
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// How a client's unfinished head ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    Answered431,
    Closed,
    /// No answer within 5 s: the server is still buffering the head.
    StillReading,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfinished_headers_cannot_grow_the_server_past_its_memory_limit() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[]);
    let address = format!("127.0.0.1:{}", server.port);
    let (_, before) = memory_kib(server.pid());
    let line = {
        let mut line = b"GET /health/live HTTP/1.1\r\nHost: x\r\nX-Long: ".to_vec();
        line.resize(line.len() + 400 * 1024, b'a');
        std::sync::Arc::new(line)
    };
    let mut clients = Vec::new();
    for _ in 0..250 {
        let (address, line) = (address.clone(), line.clone());
        clients.push(tokio::spawn(async move {
            let Ok(mut stream) = tokio::net::TcpStream::connect(&address).await else {
                return Ending::Closed;
            };
            // The server stops reading at the limit and answers: the rest may not go out.
            let _ = stream.write_all(&line).await;
            let mut answer = vec![0; 64];
            match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer)).await {
                Err(_) => Ending::StillReading,
                Ok(Ok(read)) if answer[..read].starts_with(b"HTTP/1.1 431") => Ending::Answered431,
                // A reset can overtake the 431 when the server closes with our bytes unread.
                Ok(_) => Ending::Closed,
            }
        }));
    }
    let mut endings = Vec::new();
    for client in clients {
        endings.push(client.await.unwrap());
    }
    let count = |ending: Ending| endings.iter().filter(|e| **e == ending).count();
    assert_eq!(
        count(Ending::StillReading),
        0,
        "the server kept reading unfinished heads: {endings:?}"
    );
    assert!(count(Ending::Answered431) > 0, "{endings:?}");
    let (peak, _) = memory_kib(server.pid());
    let grown = peak.saturating_sub(before);
    eprintln!(
        "250 unfinished 400 KiB heads: {} answered 431, {} closed; RSS {before} KiB before, peak {peak} KiB",
        count(Ending::Answered431),
        count(Ending::Closed)
    );
    // 250 connections × 16 KiB is 4 MiB of buffers; the old bound (~400 KiB each) was 100.
    assert!(
        grown < 32 * 1024,
        "grew by {grown} KiB (from {before} KiB to a peak of {peak} KiB)"
    );
    assert!(
        peak < 128 * 1024,
        "peak {peak} KiB, over the manifest's 128 Mi"
    );
}
