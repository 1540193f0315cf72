//! Deadlines, retries and hostile servers (CONTRACT §6, §7): the sandbox's faults where they can
//! say it, and a small hostile server of the test's own (std `TcpListener` on 127.0.0.1) where
//! they cannot: a server that accepts and never answers, an endless or oversized body, a body
//! that drips, bytes that are no HTTP.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::cli_util::{Run, admin, run};
use crate::common::{Sandbox, TestEnv};

/// The failure a user should see: this exit code, one `❌` line on stderr, nothing on stdout, no
/// panic, no backtrace.
fn clean_failure(r: Run, code: i32) -> Run {
    let r = r.fails(code);
    assert!(
        r.stderr.starts_with("❌ ") && r.stderr.lines().count() == 1,
        "not one error line: {:?}",
        r.stderr
    );
    assert!(
        !r.stderr.contains("Internal error") && !r.stderr.contains("backtrace"),
        "{}",
        r.stderr
    );
    assert_eq!(r.stdout, "");
    r
}

/// The same in JSON mode: one JSON error object on stderr.
fn clean_json_failure(r: Run, code: i32) -> serde_json::Value {
    let r = r.fails(code);
    assert_eq!(r.stdout, "");
    let e = r.stderr_json();
    assert_eq!(e["error"], true, "{e}");
    let message = e["error-message"].as_str().expect("error-message");
    assert!(!message.contains('\n'), "{message:?}");
    e
}

#[test]
fn a_get_that_meets_two_503s_succeeds_on_the_third_try() {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    sb.create_service_token("one", &["stackstate-admin"]);
    // No Retry-After: the client's own backoff.
    sb.fault(json!({"method": "GET", "path": "/api/security/tokens", "count": 2, "status": 503}));
    let r = admin(&env, &sb, &["service-token", "list", "-v"]).ok();
    assert!(r.stdout.contains("one"), "{}", r.stdout);
    assert_eq!(r.stderr.matches("< 503").count(), 2, "{}", r.stderr);
    assert_eq!(r.stderr.matches("* retrying in").count(), 2, "{}", r.stderr);
    assert_eq!(sb.request_count("GET /api/security/tokens"), 3);
}

#[test]
fn retry_after_is_waited_for() {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    sb.fault(json!({"method": "GET", "count": 1, "status": 503, "retry_after": 1}));
    let started = Instant::now();
    let r = admin(&env, &sb, &["ingestion-api-key", "list", "-v"]).ok();
    let took = started.elapsed();
    assert!(took >= Duration::from_secs(1), "did not wait: {took:?}");
    assert!(
        r.stderr.contains("* retrying in 1000 ms (attempt 2 of 4)"),
        "{}",
        r.stderr
    );
    assert_eq!(sb.request_count("GET /api/security/ingestion/api_keys"), 2);

    // A 429 with Retry-After is retried the same way, a DELETE as a GET.
    let id = crate::cli_util::create_key(&sb, "k");
    sb.fault(json!({"method": "DELETE", "count": 1, "status": 429, "retry_after": 1}));
    let started = Instant::now();
    admin(&env, &sb, &["ingestion-api-key", "delete", &id.to_string()]).ok();
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(
        sb.request_count("DELETE /api/security/ingestion/api_keys/{id}"),
        2
    );
}

#[test]
fn a_retry_after_beyond_the_deadline_is_not_waited_for() {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    sb.fault(json!({"method": "GET", "count": 5, "status": 503, "retry_after": 60}));
    let r = clean_failure(
        admin(&env, &sb, &["service-token", "list", "--timeout", "3s"]),
        3,
    );
    assert!(r.stderr.contains("503"), "{}", r.stderr);
    assert_eq!(sb.request_count("GET /api/security/tokens"), 1);
}

#[test]
fn a_post_that_meets_a_503_is_sent_once() {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    for (args, key) in [
        (
            &["service-token", "create", "-n", "x", "--roles", "r"][..],
            "POST /api/security/tokens",
        ),
        (
            &["ingestion-api-key", "create", "-n", "x"],
            "POST /api/security/ingestion/api_keys",
        ),
    ] {
        sb.fault(json!({"method": "POST", "count": 3, "status": 503, "retry_after": 0}));
        let r = clean_failure(admin(&env, &sb, args), 3);
        assert!(r.stderr.contains("503"), "{}", r.stderr);
        assert_eq!(sb.request_count(key), 1, "{args:?}");
        sb.admin_clear_faults();
    }
    // Nothing was created.
    assert_eq!(crate::cli_util::server_tokens(&sb).len(), 0);
    assert_eq!(crate::cli_util::server_keys(&sb).len(), 0);
}

#[test]
fn an_html_502_page_after_the_retries_exits_3() {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    let page = "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n\
                <body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center>\
                </body></html>\n";
    sb.fault(
        json!({"method": "GET", "count": 10, "status": 502, "body": page,
                    "content_type": "text/html"}),
    );
    let r = clean_failure(
        admin(&env, &sb, &["service-token", "list", "--timeout", "5s"]),
        3,
    );
    assert_eq!(
        r.stderr,
        "❌ 502 Bad Gateway (the server answered with HTML, not JSON)\n"
    );
    assert_eq!(sb.request_count("GET /api/security/tokens"), 4);
    let e = clean_json_failure(
        admin(
            &env,
            &sb,
            &["service-token", "list", "--timeout", "5s", "-o", "json"],
        ),
        3,
    );
    assert_eq!(e["status"], 502);
}

#[test]
fn bodies_that_do_not_decode_exit_3_with_one_line() {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    let cases = [
        // Truncated JSON.
        (
            json!({"method": "GET", "count": 1, "status": 200, "body": "[{\"id\": 1, \"na"}),
            &["service-token", "list"][..],
        ),
        // A string where a number belongs.
        (
            json!({"method": "GET", "count": 1, "status": 200,
                   "body": [{"id": "one", "name": "x", "roles": []}]}),
            &["service-token", "list"],
        ),
        (
            json!({"method": "GET", "count": 1, "status": 200,
                   "body": [{"id": 1, "name": "x", "expiration": "tomorrow"}]}),
            &["ingestion-api-key", "list"],
        ),
        // An object where a list belongs.
        (
            json!({"method": "GET", "count": 1, "status": 200, "body": {"tokens": []}}),
            &["service-token", "list"],
        ),
        // An empty 200 body.
        (
            json!({"method": "GET", "count": 1, "status": 200, "body": ""}),
            &["ingestion-api-key", "list"],
        ),
        (
            json!({"method": "POST", "count": 1, "status": 200, "body": ""}),
            &["service-token", "create", "-n", "x", "--roles", "r"],
        ),
        // The created secret of the wrong type.
        (
            json!({"method": "POST", "count": 1, "status": 200,
                   "body": {"name": "x", "token": 12345}}),
            &["service-token", "create", "-n", "x", "--roles", "r"],
        ),
        (
            json!({"method": "POST", "count": 1, "status": 200, "body": "null"}),
            &["ingestion-api-key", "create", "-n", "x"],
        ),
    ];
    for (fault, args) in cases {
        check_decode_failure(&env, &sb, fault, args, "could not be decoded");
    }
    // A 200 that holds no secret: not an empty secret printed with exit 0.
    for (fault, args) in [
        (
            json!({"method": "POST", "count": 1, "status": 200, "body": {"name": "x"}}),
            &["service-token", "create", "-n", "x", "--roles", "r"][..],
        ),
        (
            json!({"method": "POST", "count": 1, "status": 200,
                   "body": {"name": "x", "token": " "}}),
            &["service-token", "create", "-n", "x", "--roles", "r"],
        ),
        (
            json!({"method": "POST", "count": 1, "status": 200, "body": {"name": "x", "id": 7}}),
            &["ingestion-api-key", "create", "-n", "x"],
        ),
    ] {
        check_decode_failure(&env, &sb, fault, args, "holds no");
    }
}

/// A 2xx answer `sts` cannot use: exit 3 with one line that `says` why, in text and JSON.
fn check_decode_failure(
    env: &TestEnv,
    sb: &Sandbox,
    fault: serde_json::Value,
    args: &[&str],
    says: &str,
) {
    sb.fault(fault.clone());
    let mut args = args.to_vec();
    args.extend(["--timeout", "5s"]);
    let r = clean_failure(admin(env, sb, &args), 3);
    assert!(r.stderr.contains(says), "{fault}: {}", r.stderr);
    sb.fault(fault);
    args.extend(["-o", "json"]);
    clean_json_failure(admin(env, sb, &args), 3);
}

#[test]
fn a_server_that_accepts_and_never_answers_is_exit_4_at_the_deadline() {
    let server = Hostile::start(Behaviour::Silent);
    let env = TestEnv::new();
    let started = Instant::now();
    let r = clean_failure(
        run(env
            .sts_at(&server.url, "t", true)
            .args(["service-token", "list", "--timeout", "2s"])),
        4,
    );
    let took = started.elapsed();
    assert!(took >= Duration::from_secs(2), "gave up early: {took:?}");
    assert!(r.stderr.contains("timeout"), "{}", r.stderr);

    // The same for a POST, and through the sandbox's own hang fault.
    let started = Instant::now();
    clean_failure(
        run(env.sts_at(&server.url, "t", true).args([
            "ingestion-api-key",
            "create",
            "-n",
            "x",
            "--timeout",
            "2s",
        ])),
        4,
    );
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert!(server.connections() >= 2);

    let sb = Sandbox::start();
    sb.fault(json!({"method": "DELETE", "count": 10, "hang": true}));
    let started = Instant::now();
    clean_failure(
        admin(
            &env,
            &sb,
            &["service-token", "delete", "1", "--timeout", "2s"],
        ),
        4,
    );
    assert!(started.elapsed() >= Duration::from_secs(2));
}

#[test]
fn a_body_that_drips_is_cut_at_the_deadline() {
    let server = Hostile::start(Behaviour::Drip);
    let env = TestEnv::new();
    let started = Instant::now();
    clean_failure(
        run(env.sts_at(&server.url, "t", true).args([
            "ingestion-api-key",
            "list",
            "--timeout",
            "2s",
        ])),
        4,
    );
    assert!(started.elapsed() >= Duration::from_secs(2));
}

#[test]
fn bodies_over_16_mib_exit_3() {
    let env = TestEnv::new();
    for behaviour in [
        Behaviour::Large {
            bytes: 20 << 20,
            content_length: true,
        },
        Behaviour::Large {
            bytes: 20 << 20,
            content_length: false,
        },
        Behaviour::Endless,
    ] {
        let server = Hostile::start(behaviour);
        let r = clean_failure(
            run(env.sts_at(&server.url, "t", true).args([
                "service-token",
                "list",
                "--timeout",
                "5s",
            ])),
            3,
        );
        assert!(r.stderr.contains("16 MiB"), "{behaviour:?}: {}", r.stderr);
        // Not retried: one connection.
        assert_eq!(server.connections(), 1, "{behaviour:?}");
        let e = clean_json_failure(
            run(env.sts_at(&server.url, "t", true).args([
                "service-token",
                "list",
                "--timeout",
                "5s",
                "-o",
                "json",
            ])),
            3,
        );
        assert!(e["error-message"].as_str().unwrap().contains("16 MiB"));
    }
    // Just under the cap is read in full (and then must decode).
    let server = Hostile::start(Behaviour::Large {
        bytes: 15 << 20,
        content_length: true,
    });
    let r = clean_failure(
        run(env
            .sts_at(&server.url, "t", true)
            .args(["service-token", "list", "--timeout", "5s"])),
        3,
    );
    assert!(r.stderr.contains("could not be decoded"), "{}", r.stderr);
}

#[test]
fn bytes_that_are_no_http_are_no_answer() {
    let server = Hostile::start(Behaviour::Garbage);
    let env = TestEnv::new();
    let r = clean_failure(
        run(env
            .sts_at(&server.url, "t", true)
            .args(["service-token", "list", "--timeout", "5s"])),
        4,
    );
    assert!(r.stderr.contains("could not connect"), "{}", r.stderr);
    // A GET is retried on a broken exchange; a POST that was sent is not.
    assert_eq!(server.connections(), 4);
    clean_failure(
        run(env.sts_at(&server.url, "t", true).args([
            "service-token",
            "create",
            "-n",
            "x",
            "--roles",
            "r",
            "--timeout",
            "5s",
        ])),
        4,
    );
    assert_eq!(server.connections(), 5);
}

// ---------------------------------------------------------------------------------------------

trait ClearFaults {
    fn admin_clear_faults(&self);
}

impl ClearFaults for Sandbox {
    fn admin_clear_faults(&self) {
        let resp = self
            .http()
            .delete(format!("{}/_sandbox/faults", self.url))
            .header("X-API-Token", &self.admin_token)
            .send()
            .unwrap();
        assert!(resp.status().is_success());
    }
}

/// What the hostile server does with each connection.
#[derive(Debug, Clone, Copy)]
enum Behaviour {
    /// Accepts, reads, never answers (the socket stays open until the test ends).
    Silent,
    /// A 200 whose JSON body comes one byte every 100 ms, for at most 30 s.
    Drip,
    /// A 200 with a body of this many bytes, with or without `Content-Length`.
    Large { bytes: usize, content_length: bool },
    /// A chunked 200 body that never ends (until the client goes away, or 1 GiB).
    Endless,
    /// Bytes that are no HTTP answer, then close.
    Garbage,
}

/// A server of the test's own on 127.0.0.1 that misbehaves as told; stops when dropped.
struct Hostile {
    url: String,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Hostile {
    fn start(behaviour: Behaviour) -> Hostile {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, halt) = (Arc::clone(&accepted), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            let mut workers = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(120);
            while !halt.load(Ordering::SeqCst) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((stream, _)) => {
                        count.fetch_add(1, Ordering::SeqCst);
                        let halt = Arc::clone(&halt);
                        workers.push(std::thread::spawn(move || serve(stream, behaviour, &halt)));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
            halt.store(true, Ordering::SeqCst);
            for w in workers {
                let _ = w.join();
            }
        });
        Hostile {
            url,
            accepted,
            stop,
            thread: Some(thread),
        }
    }

    fn connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads the request head (and whatever body came with it) so the client is not reset early.
fn read_request(stream: &mut TcpStream) {
    stream
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut buf = [0u8; 8192];
    let mut seen = Vec::new();
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
    // A small JSON body may follow the head; it is read by the same calls or dropped.
    let _ = stream.read(&mut buf);
}

fn serve(mut stream: TcpStream, behaviour: Behaviour, halt: &AtomicBool) {
    stream.set_nonblocking(false).unwrap();
    read_request(&mut stream);
    let _ = stream.set_write_timeout(Some(Duration::from_secs(10)));
    match behaviour {
        Behaviour::Silent => {
            while !halt.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Behaviour::Drip => {
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                        Content-Length: 100000\r\n\r\n[";
            if stream.write_all(head.as_bytes()).is_err() {
                return;
            }
            for _ in 0..300 {
                if halt.load(Ordering::SeqCst) || stream.write_all(b" ").is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        Behaviour::Large {
            bytes,
            content_length,
        } => {
            let head = if content_length {
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                     Content-Length: {bytes}\r\n\r\n"
                )
            } else {
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
                    .to_string()
            };
            if stream.write_all(head.as_bytes()).is_err() {
                return;
            }
            let block = vec![b' '; 64 * 1024];
            let mut left = bytes;
            while left > 0 && !halt.load(Ordering::SeqCst) {
                let n = left.min(block.len());
                if stream.write_all(&block[..n]).is_err() {
                    return;
                }
                left -= n;
            }
        }
        Behaviour::Endless => {
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                        Transfer-Encoding: chunked\r\n\r\n";
            if stream.write_all(head.as_bytes()).is_err() {
                return;
            }
            let mut chunk = format!("{:x}\r\n", 64 * 1024).into_bytes();
            chunk.extend(std::iter::repeat_n(b' ', 64 * 1024));
            chunk.extend_from_slice(b"\r\n");
            // 1 GiB at most: the test's own bound, far past the client's cap.
            for _ in 0..16 * 1024 {
                if halt.load(Ordering::SeqCst) || stream.write_all(&chunk).is_err() {
                    return;
                }
            }
        }
        Behaviour::Garbage => {
            let _ = stream.write_all(b"\x16\x03\x01 this is not HTTP at all\r\n\r\n");
        }
    }
}
