//! Loopback servers of the test's own for the attacks of the security tests: a server that
//! answers each request with what a handler says (a redirect, an echo of the credential), over
//! plain HTTP or TLS, and records every request it received (head and body), so a test can
//! assert that a second listener got nothing. Stopped when dropped.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio_rustls::rustls;

/// One request as it arrived: the head (request line and headers) and the body, as text.
#[derive(Debug, Clone)]
pub struct Request {
    pub head: String,
    pub body: String,
}

impl Request {
    /// `GET /api/x`.
    pub fn line(&self) -> &str {
        self.head.lines().next().unwrap_or("")
    }
}

type Handler = dyn Fn(&Request) -> Vec<u8> + Send + Sync;

pub struct Server {
    /// `http://127.0.0.1:<port>` or `https://127.0.0.1:<port>`.
    pub url: String,
    addr: std::net::SocketAddr,
    requests: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// A plain HTTP server answering with `handler`'s bytes (a whole HTTP response).
    pub fn start(handler: impl Fn(&Request) -> Vec<u8> + Send + Sync + 'static) -> Server {
        Server::spawn(None, Arc::new(handler))
    }

    /// A server that answers every request `404` and records it: a listener that must get
    /// nothing.
    pub fn trap() -> Server {
        Server::start(|_| response(404, &[], ""))
    }

    /// An HTTPS server with this certificate chain and key (PEM).
    pub fn start_tls(
        cert_pem: &str,
        key_pem: &str,
        handler: impl Fn(&Request) -> Vec<u8> + Send + Sync + 'static,
    ) -> Server {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(cert_pem.as_bytes())
                .collect::<Result<_, _>>()
                .expect("certificate PEM");
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).expect("key PEM");
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server TLS config");
        Server::spawn(Some(Arc::new(config)), Arc::new(handler))
    }

    fn spawn(tls: Option<Arc<rustls::ServerConfig>>, handler: Arc<Handler>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let scheme = if tls.is_some() { "https" } else { "http" };
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen, halt) = (Arc::clone(&requests), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if halt.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (seen, handler, tls) = (Arc::clone(&seen), Arc::clone(&handler), tls.clone());
                std::thread::spawn(move || serve(stream, tls, &*handler, &seen));
            }
        });
        Server {
            url: format!("{scheme}://{addr}"),
            addr,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    /// Everything received so far, heads and bodies, as one text.
    pub fn received(&self) -> String {
        self.requests()
            .iter()
            .map(|r| format!("{}{}", r.head, r.body))
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A whole HTTP/1.1 response with these extra headers and body; the connection closes after it.
pub fn response(status: u16, headers: &[(&str, &str)], body: &str) -> Vec<u8> {
    let mut text = format!(
        "HTTP/1.1 {status} Status\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    text.push_str(body);
    text.into_bytes()
}

fn serve(
    stream: TcpStream,
    tls: Option<Arc<rustls::ServerConfig>>,
    handler: &Handler,
    seen: &Mutex<Vec<Request>>,
) {
    // A bound on a stuck peer, so a worker thread never outlives the test by much.
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    match tls {
        None => exchange(stream, handler, seen),
        Some(config) => {
            let Ok(conn) = rustls::ServerConnection::new(config) else {
                return;
            };
            exchange(rustls::StreamOwned::new(conn, stream), handler, seen)
        }
    }
}

fn exchange(mut stream: impl Read + Write, handler: &Handler, seen: &Mutex<Vec<Request>>) {
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => {
                if !data.is_empty() {
                    seen.lock().unwrap().push(Request {
                        head: String::from_utf8_lossy(&data).into_owned(),
                        body: String::new(),
                    });
                }
                return;
            }
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    };
    let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
    let length = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    while data.len() < head_end + length {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    }
    let request = Request {
        head,
        body: String::from_utf8_lossy(&data[head_end..]).into_owned(),
    };
    seen.lock().unwrap().push(request.clone());
    let _ = stream.write_all(&handler(&request));
    let _ = stream.flush();
}
