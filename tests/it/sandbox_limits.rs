//! The sandbox cannot be held by its clients (issue 25, finding 5): paths it does not serve count
//! under one key, so unauthenticated traffic cannot grow its memory; a connection that sends
//! half a header, or sits idle, is closed after `--header-timeout`; and well over 128
//! connections are open at once while a normal client is still served.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

use serde_json::json;

use crate::common::{Sandbox, send_json};

/// Requests of 60 KB paths the sandbox does not serve.
const UNIQUE_PATHS: usize = 20_000;
const SEGMENT_BYTES: usize = 60 * 1024;
/// The memory the sandbox may reach while serving them (its peak resident set).
const RSS_BOUND_KIB: u64 = 50 * 1024;
/// Connections holding half a header while a normal client is served.
const PARTIAL_CONNECTIONS: usize = 150;

/// A field of `/proc/<pid>/status` in KiB (`VmHWM`: the peak resident set).
fn proc_status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in {status}"))
}

/// Sends one `GET <path>` on a keep-alive connection and reads its whole answer; returns the
/// status code.
fn get_on(stream: &mut BufReader<TcpStream>, host: &str, path: &str) -> u16 {
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n");
    stream.get_mut().write_all(request.as_bytes()).unwrap();
    let mut line = String::new();
    stream.read_line(&mut line).unwrap();
    let status: u16 = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("status line {line:?}"));
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        stream.read_line(&mut header).unwrap();
        if header == "\r\n" || header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap();
        }
    }
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).unwrap();
    status
}

/// Reads until the server closes the connection (EOF, or a reset); returns what came.
fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return seen,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
}

#[test]
fn twenty_thousand_unique_unauthenticated_paths_leave_memory_bounded() {
    let sb = Sandbox::start();
    let host = sb.url.trim_start_matches("http://").to_string();
    let threads = 4;
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let host = host.clone();
            std::thread::spawn(move || {
                let mut stream = BufReader::new(TcpStream::connect(&host).unwrap());
                let filler = "x".repeat(SEGMENT_BYTES);
                for i in (t..UNIQUE_PATHS).step_by(threads) {
                    let path = format!("/api/{i:08}{filler}");
                    assert_eq!(get_on(&mut stream, &host, &path), 404);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let peak = proc_status_kib(sb.pid(), "VmHWM");
    eprintln!("peak resident set of the sandbox: {peak} KiB");
    assert!(
        peak < RSS_BOUND_KIB,
        "the sandbox peaked at {peak} KiB (bound {RSS_BOUND_KIB} KiB)"
    );
    // Every one of them counted, under one key.
    let counts = sb.requests();
    assert_eq!(counts, json!({"GET /api/(unknown)": UNIQUE_PATHS}));
}

#[test]
fn unknown_methods_and_paths_count_under_bounded_keys_on_every_platform() {
    for (platform, base) in [
        ("stackstate", "/api"),
        ("posit-connect", "/__api__"),
        ("qualytics", "/api"),
    ] {
        let sb = Sandbox::start_platform(platform, &[]);
        for i in 0..3 {
            let req = sb.http().request(
                format!("BREW{i}").parse().unwrap(),
                format!("{}{base}/pot-{i}", sb.url),
            );
            assert_eq!(send_json(req, None).0, 404, "{platform}");
        }
        let req = sb.http().get(format!("{}{base}/nowhere/7", sb.url));
        assert_eq!(send_json(req, None).0, 404, "{platform}");
        assert_eq!(
            sb.requests(),
            json!({
                format!("OTHER {base}/(unknown)"): 3,
                format!("GET {base}/(unknown)"): 1,
            }),
            "{platform}"
        );
    }
}

#[test]
fn partial_headers_and_idle_connections_are_closed_while_others_are_served() {
    let sb = Sandbox::start_with(&["--header-timeout", "1"]);
    let host = sb.url.trim_start_matches("http://").to_string();
    // Well over 128 connections, each with half a request's header.
    let mut partial: Vec<TcpStream> = (0..PARTIAL_CONNECTIONS)
        .map(|_| {
            let mut s = TcpStream::connect(&host).unwrap();
            s.write_all(format!("GET /api/server/info HTTP/1.1\r\nHost: {host}\r\n").as_bytes())
                .unwrap();
            s
        })
        .collect();
    // A keep-alive connection that is served once, then says nothing more.
    let mut idle = BufReader::new(TcpStream::connect(&host).unwrap());
    assert_eq!(get_on(&mut idle, &host, "/api/server/status"), 401);

    // Meanwhile a normal client is served.
    let (name, value) = sb.admin_header();
    let req = sb
        .http()
        .get(format!("{}/server/info", sb.api()))
        .header(name, value);
    let (status, body) = send_json(req, None);
    assert_eq!(status, 200, "{body}");

    // The sandbox closes every one of them on its own (the test waits for the close).
    for s in &mut partial {
        let answer = read_until_closed(s);
        assert!(
            !String::from_utf8_lossy(&answer).contains("200 OK"),
            "a half-sent request was answered"
        );
    }
    assert!(read_until_closed(idle.get_mut()).is_empty());
    // And it still serves.
    assert_eq!(sb.request_count("GET /api/server/info"), 1);
    let req = sb
        .http()
        .get(format!("{}/server/info", sb.api()))
        .header(name, sb.admin_header().1);
    assert_eq!(send_json(req, None).0, 200);
}

#[test]
fn a_header_timeout_that_makes_no_sense_is_refused() {
    for bad in ["0", "-1", "soon", "100000"] {
        let arg = format!("--header-timeout={bad}");
        let err = Sandbox::try_start(&[&arg])
            .err()
            .unwrap_or_else(|| panic!("--header-timeout {bad} accepted"));
        assert!(err.contains("--header-timeout"), "{err}");
    }
}
