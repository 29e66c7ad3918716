//! The load generator: `connections` keep-alive HTTP/1.1 connections on loopback, each a task
//! sending its next request as soon as the last answered (a closed loop, like wrk), every
//! latency recorded in an HDR histogram.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// One connection to the server under test.
pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
}

impl Conn {
    pub async fn open(addr: SocketAddr) -> anyhow::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .context("HTTP/1.1 handshake")?;
        tokio::spawn(connection);
        Ok(Self { sender })
    }

    /// Sends `call` and reads the whole answer: its status, body and latency.
    pub async fn send(&mut self, call: &Call) -> anyhow::Result<Answer> {
        let mut request = Request::builder()
            .method(call.method.clone())
            .uri(call.path.as_str())
            .header(hyper::header::HOST, "127.0.0.1");
        if let Some(token) = &call.bearer {
            request = request.header(hyper::header::AUTHORIZATION, &**token);
        }
        if !call.body.is_empty() {
            request = request.header(hyper::header::CONTENT_TYPE, "application/json");
        }
        let request = request.body(Full::new(call.body.clone()))?;
        let started = Instant::now();
        self.sender.ready().await?;
        let response = self.sender.send_request(request).await?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await?.to_bytes();
        Ok(Answer {
            status,
            body,
            latency: started.elapsed(),
        })
    }
}

/// A request: `bearer` is the whole `Authorization` value.
pub struct Call {
    pub method: Method,
    pub path: String,
    pub bearer: Option<Arc<str>>,
    pub body: Bytes,
}

impl Call {
    pub fn get(path: String, bearer: Option<Arc<str>>) -> Self {
        Self {
            method: Method::GET,
            path,
            bearer,
            body: Bytes::new(),
        }
    }

    pub fn post(path: String, bearer: Arc<str>, body: Bytes) -> Self {
        Self {
            method: Method::POST,
            path,
            bearer: Some(bearer),
            body,
        }
    }
}

pub struct Answer {
    pub status: u16,
    pub body: Bytes,
    pub latency: Duration,
}

/// What one phase saw: latencies of the answers with the expected status, and the rest.
pub struct Tally {
    pub latencies: Histogram<u64>,
    pub unexpected: u64,
    pub first_unexpected: Option<String>,
}

impl Tally {
    pub fn new() -> Self {
        Self {
            // 1 µs to 60 s, 3 significant digits.
            latencies: Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds"),
            unexpected: 0,
            first_unexpected: None,
        }
    }

    /// Counts `answer`: its latency when its status is `expected`, else as unexpected.
    pub fn record(&mut self, answer: &Answer, expected: u16, what: &str) -> bool {
        if answer.status == expected {
            self.latencies
                .saturating_record(answer.latency.as_micros().max(1) as u64);
            true
        } else {
            self.unexpected += 1;
            if self.first_unexpected.is_none() {
                self.first_unexpected = Some(format!(
                    "{what}: HTTP {} {}",
                    answer.status,
                    String::from_utf8_lossy(&answer.body)
                ));
            }
            false
        }
    }

    pub fn merge(&mut self, other: Tally) {
        self.latencies.add(&other.latencies).expect("same bounds");
        self.unexpected += other.unexpected;
        if self.first_unexpected.is_none() {
            self.first_unexpected = other.first_unexpected;
        }
    }

    pub fn requests(&self) -> u64 {
        self.latencies.len() + self.unexpected
    }
}

/// When a phase stops: at its deadline, or when its work runs out.
#[derive(Clone)]
pub struct Budget {
    deadline: Instant,
    next: Arc<AtomicUsize>,
    items: usize,
    stopped: Arc<AtomicBool>,
}

impl Budget {
    pub fn new(duration: Duration, items: usize) -> Self {
        Self {
            deadline: Instant::now() + duration,
            next: Arc::new(AtomicUsize::new(0)),
            items,
            stopped: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The next work item's index, or `None` once the phase is over.
    pub fn take(&self) -> Option<usize> {
        if self.stopped.load(Ordering::Relaxed) || Instant::now() >= self.deadline {
            return None;
        }
        let index = self.next.fetch_add(1, Ordering::Relaxed);
        if index >= self.items {
            self.stopped.store(true, Ordering::Relaxed);
            return None;
        }
        Some(index)
    }
}

/// Runs `worker` on `connections` connections at once; their tallies merged, and the time.
pub async fn run<F, Fut>(
    addr: SocketAddr,
    connections: usize,
    worker: F,
) -> anyhow::Result<(Tally, Duration)>
where
    F: Fn(usize, Conn) -> Fut,
    Fut: Future<Output = anyhow::Result<Tally>> + Send + 'static,
{
    let mut conns = Vec::with_capacity(connections);
    for _ in 0..connections {
        conns.push(Conn::open(addr).await?);
    }
    let started = Instant::now();
    let tasks: Vec<_> = conns
        .into_iter()
        .enumerate()
        .map(|(i, conn)| tokio::spawn(worker(i, conn)))
        .collect();
    let mut total = Tally::new();
    for task in tasks {
        total.merge(task.await??);
    }
    Ok((total, started.elapsed()))
}
