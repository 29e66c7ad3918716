//! The HTTP/1.1 server under the API: poem's endpoint on hyper, with what poem's own server
//! lacks, so a slow or silent client cannot hold a connection:
//! - `server.header_read_timeout_secs`: the request head (line and headers) must arrive
//!   within it, counted from when the server starts waiting for it (hyper's timer);
//! - `server.body_read_timeout_secs`: the whole body must arrive within it, counted from the
//!   end of the head; past it, reading the body fails and the connection is closed;
//! - `server.idle_timeout_secs`: a keep-alive connection with no new request this long after
//!   its last response is closed;
//! - `server.max_connections`: connections beyond it wait in the listen backlog;
//! - `server.max_header_bytes`: a request head longer than this is answered 431 and the
//!   connection closed, so a connection's read buffer never grows past it (hyper's own
//!   bound is about 400 KiB).
//!
//! On shutdown it stops accepting, lets the requests in flight finish within the grace
//! period, and closes idle connections at once.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use poem::endpoint::BoxEndpoint;
use poem::web::{LocalAddr, RemoteAddr};
use poem::{Addr, Endpoint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::{Instant, Sleep};

use crate::config::ServerSettings;

/// How long a client may take, and how many may be connected at once.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub header_read: Duration,
    pub body_read: Duration,
    pub idle: Duration,
    pub max_connections: usize,
    pub max_header_bytes: usize,
}

impl From<&ServerSettings> for ConnectionLimits {
    /// `server.header_read_timeout_secs`, `body_read_timeout_secs`, `idle_timeout_secs`,
    /// `max_connections` and `max_header_bytes`.
    fn from(server: &ServerSettings) -> Self {
        Self {
            header_read: Duration::from_secs(server.header_read_timeout_secs),
            body_read: Duration::from_secs(server.body_read_timeout_secs),
            idle: Duration::from_secs(server.idle_timeout_secs),
            max_connections: server.max_connections,
            max_header_bytes: server.max_header_bytes,
        }
    }
}

/// Serves `endpoint` on `listener` until `shutdown` completes, then drains for up to `grace`.
/// Returns how many requests were still in flight when the grace period ran out (cut off).
pub async fn serve(
    listener: TcpListener,
    endpoint: BoxEndpoint<'static>,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) -> io::Result<usize> {
    let in_flight = Arc::new(AtomicUsize::new(0));
    let endpoint: Arc<BoxEndpoint<'static>> = Arc::new(endpoint);
    let local = listener.local_addr()?;
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read)
        .max_buf_size(limits.max_header_bytes)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, or a connection reset before it was accepted.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let endpoint = endpoint.clone();
        let body_read = limits.body_read;
        let in_flight = in_flight.clone();
        let service = hyper::service::service_fn(move |request: poem::http::Request<Incoming>| {
            let endpoint = endpoint.clone();
            let counted = InFlight::new(&in_flight);
            async move {
                let _counted = counted;
                let response = endpoint
                    .get_response(poem_request(request, local, remote, body_read))
                    .await;
                Ok::<_, std::convert::Infallible>(poem::http::Response::from(response))
            }
        });
        let io = TokioIo::new(IdleTimeout::new(stream, limits.idle));
        let connection = graceful.watch(http.serve_connection(io, service));
        tokio::spawn(async move {
            let _permit = permit;
            if let Err(error) = connection.await {
                tracing::debug!(%error, %remote, "connection closed with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        let cut_off = in_flight.load(Ordering::SeqCst);
        tracing::warn!(
            grace_secs = grace.as_secs(),
            cut_off,
            "requests still in flight after the grace period (server.shutdown_grace_secs) are cut off"
        );
        return Ok(cut_off);
    }
    Ok(0)
}

/// One request being answered: counted from when hyper hands it over until its response
/// (or its cancellation) drops the guard.
struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    fn new(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Self(count.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The hyper request as poem's, with the body behind its read deadline.
fn poem_request(
    request: poem::http::Request<Incoming>,
    local: SocketAddr,
    remote: SocketAddr,
    body_read: Duration,
) -> poem::Request {
    let mut request = poem::Request::from((
        request,
        LocalAddr(Addr::SocketAddr(local)),
        RemoteAddr(Addr::SocketAddr(remote)),
        poem::http::uri::Scheme::HTTP,
    ));
    let body = http_body_util::combinators::BoxBody::from(request.take_body());
    let deadline = DeadlineBody::new(body, body_read);
    request.set_body(poem::Body::from(http_body_util::combinators::BoxBody::new(
        deadline,
    )));
    request
}

/// A request body that fails once its deadline passes.
struct DeadlineBody<B> {
    inner: B,
    deadline: Pin<Box<Sleep>>,
    expired: bool,
}

impl<B> DeadlineBody<B> {
    fn new(inner: B, within: Duration) -> Self {
        Self {
            inner,
            deadline: Box::pin(tokio::time::sleep(within)),
            expired: false,
        }
    }
}

impl<B> HttpBody for DeadlineBody<B>
where
    B: HttpBody<Data = Bytes, Error = io::Error> + Unpin,
{
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        if self.expired {
            return Poll::Ready(None);
        }
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        ready!(self.deadline.as_mut().poll(cx));
        self.expired = true;
        Poll::Ready(Some(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the request body did not arrive within server.body_read_timeout_secs",
        ))))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A connection that reads as closed when it has been idle too long after a response: the
/// timer starts with each write and stops when the client sends the next bytes.
struct IdleTimeout {
    inner: TcpStream,
    idle: Duration,
    timer: Pin<Box<Sleep>>,
    armed: bool,
}

impl IdleTimeout {
    fn new(inner: TcpStream, idle: Duration) -> Self {
        Self {
            inner,
            idle,
            timer: Box::pin(tokio::time::sleep(idle)),
            armed: false,
        }
    }

    fn arm(&mut self) {
        self.armed = true;
        let at = Instant::now() + self.idle;
        self.timer.as_mut().reset(at);
    }
}

impl AsyncRead for IdleTimeout {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    self.armed = false;
                }
                Poll::Ready(result)
            }
            Poll::Pending if self.armed => {
                ready!(self.timer.as_mut().poll(cx));
                // Idle past the limit: end of stream, which hyper takes as the client leaving.
                self.armed = false;
                Poll::Ready(Ok(()))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncWrite for IdleTimeout {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let written = ready!(Pin::new(&mut self.inner).poll_write(cx, data));
        self.arm();
        Poll::Ready(written)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let written = ready!(Pin::new(&mut self.inner).poll_write_vectored(cx, bufs));
        self.arm();
        Poll::Ready(written)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
