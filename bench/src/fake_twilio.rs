//! A fake Twilio over real HTTP: takes `POST /2010-04-01/Accounts/{sid}/Messages.json`
//! (form: `To`, `Body`, `From`), keeps the last code sent to each number, answers 201 with a
//! message id as Twilio does. Anything else is answered 400, and counted.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

pub const ACCOUNT_SID: &str = "ACbench";

#[derive(Default)]
pub struct Inbox {
    codes: Mutex<HashMap<String, String>>,
    sent: AtomicU64,
    refused: AtomicU64,
}

impl Inbox {
    pub fn code_for(&self, phone: &str) -> Option<String> {
        self.codes.lock().unwrap().get(phone).cloned()
    }

    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    fn take(&self, form: &[u8]) -> bool {
        let Ok(fields) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(form) else {
            return false;
        };
        let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v);
        let (Some(to), Some(body), Some(_from)) = (field("To"), field("Body"), field("From"))
        else {
            return false;
        };
        let Some(code) = first_code(body) else {
            return false;
        };
        self.codes.lock().unwrap().insert(to.clone(), code);
        true
    }
}

/// The first run of 6 to 8 digits in `text`.
fn first_code(text: &str) -> Option<String> {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|run| (6..=8).contains(&run.len()))
        .map(str::to_owned)
}

/// Starts the fake on a free loopback port; its base URL and inbox.
pub async fn start() -> anyhow::Result<(String, Arc<Inbox>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr: SocketAddr = listener.local_addr()?;
    let inbox = Arc::new(Inbox::default());
    let shared = inbox.clone();
    let path = format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json");
    tokio::spawn(async move {
        let path: Arc<str> = path.into();
        while let Ok((stream, _)) = listener.accept().await {
            let inbox = shared.clone();
            let path = path.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<Incoming>| {
                    let inbox = inbox.clone();
                    let path = path.clone();
                    async move {
                        let right_path = request.uri().path() == &*path
                            && request.method() == hyper::Method::POST
                            && request.headers().contains_key(hyper::header::AUTHORIZATION);
                        let form = request.into_body().collect().await?.to_bytes();
                        let response =
                            if right_path && inbox.take(&form) {
                                let n = inbox.sent.fetch_add(1, Ordering::Relaxed);
                                Response::builder().status(201).body(Full::new(Bytes::from(
                                    format!(r#"{{"sid":"SM{n:032x}","status":"queued"}}"#),
                                )))
                            } else {
                                inbox.refused.fetch_add(1, Ordering::Relaxed);
                                Response::builder().status(400).body(Full::new(Bytes::from(
                                    r#"{"code":21602,"message":"bad request"}"#,
                                )))
                            };
                        Ok::<_, anyhow::Error>(response.expect("a valid response"))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok((format!("http://{addr}"), inbox))
}
