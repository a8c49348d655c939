//! The accept loop, with a fast path for SSE subscribers.
//!
//! Every connection's first request head is read here (small buffer, bounded size and time).
//! `GET /v1/stream` is then served directly on the socket: response head, then the stream's
//! shared frame bytes written as they come, close-delimited. Everything else, and every later
//! request on a kept-alive connection, goes to hyper with the axum router.
//!
//! Why: an idle subscriber served through hyper keeps its 8 KiB read buffer and connection
//! state alive for hours, which alone would break the 10 KiB-per-subscriber budget at 10,000
//! subscribers (`docs/architecture.md`). The fast path keeps about 1-2 KiB per subscriber and
//! lets the hub drop a stalled subscriber's socket at once.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use bytes::{Bytes, BytesMut};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::ServerState;
use super::error::ApiError;
use super::stream::{self, SseStream, StreamQuery};
use crate::protocol::PROTOCOL_VERSION;

/// Largest request head accepted.
const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Time a client has to send its request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest write the fast path coalesces frames into.
const MAX_BATCH_BYTES: usize = 64 * 1024;
/// Unacknowledged data older than this makes the kernel drop the connection (dead peers).
const TCP_USER_TIMEOUT: Duration = Duration::from_secs(60);

/// Accepts connections until `shutdown` flips, then waits up to `grace` for them to end and
/// aborts the rest.
pub async fn run(
    listener: TcpListener,
    state: Arc<ServerState>,
    router: Router,
    mut shutdown: watch::Receiver<bool>,
    grace: Duration,
    api_runtime: tokio::runtime::Handle,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((socket, _peer)) => {
                    let state = Arc::clone(&state);
                    let router = router.clone();
                    let shutdown = shutdown.clone();
                    let api_runtime = api_runtime.clone();
                    connections.spawn(async move {
                        if let Err(error) = serve_connection(socket, state, router, shutdown, api_runtime).await {
                            tracing::debug!(%error, "connection ended with an error");
                        }
                    });
                }
                Err(error) => {
                    // Typically EMFILE: back off instead of spinning; existing streams go on.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = shutdown.changed() => break,
        }
    }
    drop(listener);
    let drained = tokio::time::timeout(grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::info!(
            left = connections.len(),
            "closing connections that did not end in time"
        );
        connections.abort_all();
        while connections.join_next().await.is_some() {}
    }
}

fn tune(socket: &TcpStream) {
    let _ = socket.set_nodelay(true);
    let sock = socket2::SockRef::from(socket);
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(Duration::from_secs(30))
        .with_interval(Duration::from_secs(10));
    let _ = sock.set_tcp_keepalive(&keepalive);
    #[cfg(target_os = "linux")]
    let _ = sock.set_tcp_user_timeout(Some(TCP_USER_TIMEOUT));
}

/// A parsed request head: just what routing needs.
struct Head {
    method: String,
    path: String,
    query: String,
    last_event_id: Option<String>,
    /// Bytes consumed by the head.
    length: usize,
}

fn parse_head(bytes: &[u8]) -> Result<Option<Head>, httparse::Error> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut request = httparse::Request::new(&mut headers);
    let httparse::Status::Complete(length) = request.parse(bytes)? else {
        return Ok(None);
    };
    let target = request.path.unwrap_or("/");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let last_event_id = request
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("last-event-id"))
        .and_then(|h| std::str::from_utf8(h.value).ok())
        .map(str::to_owned);
    Ok(Some(Head {
        method: request.method.unwrap_or("").to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
        last_event_id,
        length,
    }))
}

async fn read_head(socket: &mut TcpStream, buffer: &mut Vec<u8>) -> io::Result<Option<Head>> {
    loop {
        if buffer.len() >= MAX_HEAD_BYTES {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "request head too large",
            ));
        }
        if buffer.capacity() == buffer.len() {
            buffer.reserve(buffer.len().max(1024));
        }
        if socket.read_buf(buffer).await? == 0 {
            return Ok(None);
        }
        match parse_head(buffer) {
            Ok(Some(head)) => return Ok(Some(head)),
            Ok(None) => {}
            // Let hyper answer malformed requests with its usual 400.
            Err(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "malformed request head",
                ));
            }
        }
    }
}

async fn serve_connection(
    mut socket: TcpStream,
    state: Arc<ServerState>,
    router: Router,
    shutdown: watch::Receiver<bool>,
    api_runtime: tokio::runtime::Handle,
) -> io::Result<()> {
    tune(&socket);
    let mut buffer = Vec::with_capacity(1024);
    let head = match tokio::time::timeout(HEAD_TIMEOUT, read_head(&mut socket, &mut buffer)).await {
        Ok(Ok(Some(head))) => Some(head),
        Ok(Ok(None)) => return Ok(()),
        Ok(Err(error)) if error.kind() == io::ErrorKind::InvalidData => None,
        Ok(Err(error)) => return Err(error),
        Err(_) => return Ok(()),
    };
    if let Some(head) = head.filter(|h| h.method == "GET" && h.path == "/v1/stream") {
        let _ = head.length;
        drop(buffer);
        return serve_stream_fast(socket, &state, &head).await;
    }
    // Requests run on the API runtime, away from the stream tasks: when ten thousand
    // subscribers wake for an event, a publish answer must not queue behind them.
    api_runtime
        .spawn(serve_with_hyper(socket, buffer, router, shutdown))
        .await
        .unwrap_or_else(|error| Err(io::Error::other(error)))
}

fn response_head(status: u16, reason: &str, content_type: &str, extra: &str) -> String {
    format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: {content_type}\r\ncache-control: no-cache\r\n\
         access-control-allow-origin: *\r\ntidings-protocol: {PROTOCOL_VERSION}\r\n{extra}connection: close\r\n"
    )
}

async fn write_error(socket: &mut TcpStream, error: &ApiError) -> io::Result<()> {
    let status = error.status();
    let body = error.body();
    let mut extra = String::new();
    for (name, value) in error.headers() {
        extra.push_str(&format!("{name}: {}\r\n", value.to_str().unwrap_or("")));
    }
    let mut response = response_head(
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        "application/json",
        &extra,
    );
    response.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
    socket.write_all(response.as_bytes()).await?;
    socket.write_all(&body).await?;
    socket.shutdown().await
}

async fn serve_stream_fast(
    mut socket: TcpStream,
    state: &Arc<ServerState>,
    head: &Head,
) -> io::Result<()> {
    let query: StreamQuery = match serde_urlencoded::from_str(&head.query) {
        Ok(query) => query,
        Err(error) => {
            let error = ApiError::BadRequest {
                code: "invalid_parameter",
                message: format!("bad query string: {error}"),
            };
            return write_error(&mut socket, &error).await;
        }
    };
    let sse = match stream::open(state, &query, head.last_event_id.as_deref()) {
        Ok(sse) => sse,
        Err(error) => return write_error(&mut socket, &error).await,
    };
    let mut response = response_head(
        200,
        "OK",
        "text/event-stream; charset=utf-8",
        "x-accel-buffering: no\r\n",
    );
    response.push_str("\r\n");
    socket.write_all(response.as_bytes()).await?;
    pump(socket, sse).await
}

/// Writes the stream to the socket until either side ends it.
async fn pump(mut socket: TcpStream, mut sse: SseStream) -> io::Result<()> {
    let kill = sse.kill_switch();
    let (mut reader, mut writer) = socket.split();
    let mut probe = [0_u8; 64];
    loop {
        let chunk = tokio::select! {
            chunk = sse.next_chunk() => chunk,
            read = reader.read(&mut probe) => match read {
                // The client closed its side (or reset): stop writing.
                Ok(0) | Err(_) => None,
                // Nothing is expected from a subscriber; ignore stray bytes.
                Ok(_) => continue,
            },
        };
        let Some(chunk) = chunk else { break };
        let batch = coalesce(chunk, &mut sse);
        tokio::select! {
            written = writer.write_all(&batch) => written?,
            () = kill.notified() => break,
        }
    }
    let _ = writer.shutdown().await;
    Ok(())
}

/// Joins what is ready without waiting into one write (replays, bursts).
fn coalesce(first: Bytes, sse: &mut SseStream) -> Bytes {
    let Some(second) = sse.try_next_chunk() else {
        return first;
    };
    let mut batch = BytesMut::with_capacity(first.len() + second.len() + 1024);
    batch.extend_from_slice(&first);
    batch.extend_from_slice(&second);
    while batch.len() < MAX_BATCH_BYTES {
        let Some(more) = sse.try_next_chunk() else {
            break;
        };
        batch.extend_from_slice(&more);
    }
    batch.freeze()
}

async fn serve_with_hyper(
    socket: TcpStream,
    prefix: Vec<u8>,
    router: Router,
    mut shutdown: watch::Receiver<bool>,
) -> io::Result<()> {
    let io = TokioIo::new(Prefixed {
        prefix: Bytes::from(prefix),
        inner: socket,
    });
    let service = TowerToHyperService::new(router);
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(HEAD_TIMEOUT)
        .serve_connection(io, service);
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        _ = shutdown.changed() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    result.map_err(io::Error::other)
}

/// A socket whose first bytes were already read: replays them, then reads the socket.
struct Prefixed {
    prefix: Bytes,
    inner: TcpStream,
}

impl AsyncRead for Prefixed {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.prefix.is_empty() {
            let take = this.prefix.len().min(buf.remaining());
            buf.put_slice(&this.prefix.split_to(take));
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Prefixed {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
