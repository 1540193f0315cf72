//! The exporter's HTTP/1.1 server: `GET /metrics` and `GET /healthz` (and their `HEAD`), 404 for
//! another path, 405 for another method, never a panic. Every answer comes from the snapshot of
//! the last refresh, so a scrape never waits for a platform. At most [`Limits::max_connections`]
//! connections are served at once (the rest wait in the listen backlog); a connection that sends
//! its request head too slowly, stays idle between requests or reads its answer too slowly is
//! closed after a timeout, so no client can hold the others up. Keep-alive and pipelining work;
//! a request with a body is answered and its connection closed.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::{Instant, timeout, timeout_at};

use super::Shared;
use crate::output::prometheus::Format;

/// The server's bounds.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections served at once.
    pub max_connections: usize,
    /// From the first byte of a request head to its end.
    pub header_timeout: Duration,
    /// Waiting for the next request on a kept-alive connection.
    pub idle_timeout: Duration,
    /// Writing one answer.
    pub write_timeout: Duration,
    /// The largest request head.
    pub max_head: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_connections: 512,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(60),
            max_head: 16 * 1024,
        }
    }
}

/// Serves `listener` until `stop` completes.
pub async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    limits: Limits,
    stop: impl std::future::Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    tokio::pin!(stop);
    loop {
        let permit = tokio::select! {
            _ = &mut stop => return,
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => return,
            },
        };
        let (stream, _) = tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // Out of file descriptors and the like: try again shortly.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            connection(stream, &shared, limits).await;
            drop(permit);
        });
    }
}

/// One request, as far as the server cares.
struct Request {
    method: String,
    path: String,
    /// The connection ends after the answer (HTTP/1.0 without keep-alive, `Connection: close`,
    /// a body the server does not read).
    close: bool,
    /// The format the `Accept` header asks for.
    format: Format,
}

/// Serves the requests of one connection until it closes, times out or breaks.
async fn connection(mut stream: TcpStream, shared: &Shared, limits: Limits) {
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    loop {
        let head = match read_head(&mut stream, &mut buf, limits).await {
            Head::Complete(len) => len,
            Head::TooLarge => {
                let _ = respond(
                    &mut stream,
                    limits,
                    431,
                    "text/plain",
                    b"request head too large\n",
                    true,
                    false,
                )
                .await;
                return;
            }
            Head::Closed => return,
        };
        let request = parse(&buf[..head]);
        buf.drain(..head);
        let Some(request) = request else {
            let _ = respond(
                &mut stream,
                limits,
                400,
                "text/plain",
                b"bad request\n",
                true,
                false,
            )
            .await;
            return;
        };
        let head_only = request.method == "HEAD";
        let ok = match (request.path.as_str(), request.method.as_str()) {
            ("/metrics", "GET" | "HEAD") => {
                let snapshot = shared.get();
                let body = match request.format {
                    Format::Text => &snapshot.body,
                    Format::OpenMetrics => &snapshot.openmetrics,
                };
                respond(
                    &mut stream,
                    limits,
                    200,
                    request.format.content_type(),
                    body,
                    request.close,
                    head_only,
                )
                .await
            }
            ("/healthz", "GET" | "HEAD") => {
                let (status, body): (u16, &[u8]) = if shared.get().ready {
                    (200, b"ok\n")
                } else {
                    (503, b"the first refresh is not done yet\n")
                };
                respond(
                    &mut stream,
                    limits,
                    status,
                    "text/plain; charset=utf-8",
                    body,
                    request.close,
                    head_only,
                )
                .await
            }
            ("/metrics" | "/healthz", _) => {
                respond(
                    &mut stream,
                    limits,
                    405,
                    "text/plain",
                    b"method not allowed: GET or HEAD\n",
                    request.close,
                    false,
                )
                .await
            }
            _ => {
                respond(
                    &mut stream,
                    limits,
                    404,
                    "text/plain",
                    b"not found: /metrics or /healthz\n",
                    request.close,
                    head_only,
                )
                .await
            }
        };
        if !ok || request.close {
            return;
        }
    }
}

enum Head {
    /// The head is the first `n` bytes of the buffer.
    Complete(usize),
    TooLarge,
    /// Closed, broken, or timed out.
    Closed,
}

/// Reads until the buffer holds a whole request head: the idle timeout while no byte of it has
/// come, the header timeout from its first byte on.
async fn read_head(stream: &mut TcpStream, buf: &mut Vec<u8>, limits: Limits) -> Head {
    let mut deadline = if buf.is_empty() {
        Instant::now() + limits.idle_timeout
    } else {
        Instant::now() + limits.header_timeout
    };
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = find_head_end(buf) {
            return Head::Complete(end);
        }
        if buf.len() > limits.max_head {
            return Head::TooLarge;
        }
        let was_empty = buf.is_empty();
        match timeout_at(deadline, stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return Head::Closed,
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
        }
        if was_empty {
            deadline = Instant::now() + limits.header_timeout;
        }
    }
}

/// Where the head ends (after its blank line), if it has.
fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
        .or_else(|| buf.windows(2).position(|w| w == b"\n\n").map(|i| i + 2))
}

/// The request line and the headers that matter; `None` when it is not HTTP/1.x.
fn parse(head: &[u8]) -> Option<Request> {
    let text = std::str::from_utf8(head).ok()?;
    let mut lines = text.lines();
    let mut words = lines.next()?.split(' ');
    let method = words.next()?.to_string();
    let target = words.next()?;
    let version = words.next()?;
    if words.next().is_some() || method.is_empty() {
        return None;
    }
    let http10 = match version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        _ => return None,
    };
    let mut close = http10;
    let mut accept = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case("accept") {
            accept = Some(value);
        } else if name.eq_ignore_ascii_case("connection") {
            let value = value.to_ascii_lowercase();
            if value.contains("close") {
                close = true;
            } else if value.contains("keep-alive") {
                close = false;
            }
        } else if (name.eq_ignore_ascii_case("content-length") && value != "0")
            || name.eq_ignore_ascii_case("transfer-encoding")
        {
            // A body this server does not read: answer, then close.
            close = true;
        }
    }
    let path = target.split(['?', '#']).next().unwrap_or("").to_string();
    Some(Request {
        method,
        path,
        close,
        format: Format::negotiate(accept),
    })
}

/// Writes one answer within the write timeout; `false` when that failed.
async fn respond(
    stream: &mut TcpStream,
    limits: Limits,
    status: u16,
    content_type: &str,
    body: &[u8],
    close: bool,
    head_only: bool,
) -> bool {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        _ => "Service Unavailable",
    };
    let mut head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\n",
        body.len()
    );
    if status == 405 {
        head.push_str("Allow: GET, HEAD\r\n");
    }
    if close {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    let write = async {
        stream.write_all(head.as_bytes()).await?;
        if !head_only {
            stream.write_all(body).await?;
        }
        stream.flush().await
    };
    let ok = matches!(timeout(limits.write_timeout, write).await, Ok(Ok(())));
    if ok && close {
        let _ = stream.shutdown().await;
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines_paths_and_connection_rules() {
        let r = parse(b"GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
        assert_eq!(
            (r.method.as_str(), r.path.as_str(), r.close),
            ("GET", "/metrics", false)
        );
        assert!(parse(b"GET /metrics HTTP/1.0\r\n\r\n").unwrap().close);
        assert!(
            !parse(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                .unwrap()
                .close
        );
        assert!(
            parse(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
                .unwrap()
                .close
        );
        assert!(
            parse(b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n")
                .unwrap()
                .close
        );
        assert!(parse(b"GET / HTTP/2\r\n\r\n").is_none());
        assert!(parse(b"\xff\xfe / HTTP/1.1\r\n\r\n").is_none());
        assert!(parse(b"GET\r\n\r\n").is_none());
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\n\r\nGET"), Some(18));
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\n"), None);
    }
}
