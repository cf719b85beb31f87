//! A scripted HTTP server on 127.0.0.1 for the remote backends' unit tests: it answers each
//! request as a closure says and keeps what it saw.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

/// A request the scripted server saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub line: String,
    pub headers: Vec<String>,
    pub body: String,
}

/// A scripted HTTP server on 127.0.0.1: `reply(request)` gives (status, extra headers,
/// body) for each request, in order. Returns its URL and what it saw.
pub fn server(
    reply: impl Fn(&Seen, usize) -> (u16, Vec<String>, String) + Send + Sync + 'static,
) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let reply = Arc::new(reply);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let log = log.clone();
            let reply = reply.clone();
            std::thread::spawn(move || {
                let mut r = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if r.read_line(&mut line).is_err() {
                    return;
                }
                let mut headers = Vec::new();
                let mut len = 0;
                loop {
                    let mut h = String::new();
                    r.read_line(&mut h).unwrap();
                    let h = h.trim_end().to_string();
                    if h.is_empty() {
                        break;
                    }
                    if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap();
                    }
                    headers.push(h);
                }
                let mut body = vec![0; len];
                r.read_exact(&mut body).unwrap();
                let s = Seen {
                    line: line.trim_end().to_string(),
                    headers,
                    body: String::from_utf8(body).unwrap(),
                };
                let n = {
                    let mut l = log.lock().unwrap();
                    l.push(s.clone());
                    l.len() - 1
                };
                let (status, extra, body) = reply(&s, n);
                let mut out = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
                    body.len()
                );
                for h in extra {
                    out.push_str(&h);
                    out.push_str("\r\n");
                }
                out.push_str("\r\n");
                out.push_str(&body);
                let _ = stream.write_all(out.as_bytes());
            });
        }
    });
    (url, seen)
}

/// A `/v1/models` reply listing the one model `m`, owned by `owner` (`vllm`, `sglang`, …).
pub fn models(owner: &str) -> String {
    serde_json::json!({"object": "list", "data": [{"id": "m", "owned_by": owner, "max_model_len": 2048}]})
        .to_string()
}
