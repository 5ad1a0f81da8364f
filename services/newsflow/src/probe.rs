//! `newsflow probe URL`: a minimal HTTP/1.1 GET for container health checks.

use std::io::{Read as _, Write as _};
use std::net::{TcpStream, ToSocketAddrs as _};
use std::time::Duration;

use anyhow::{Context as _, bail};

/// GETs `url` (plain `http://host:port/path`) and returns the status code.
pub fn get_status(url: &str, timeout: Duration) -> anyhow::Result<u16> {
    let rest = url
        .strip_prefix("http://")
        .context("only http:// URLs are supported")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let address = authority
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve {authority}"))?
        .next()
        .with_context(|| format!("{authority} has no address"))?;
    let mut stream = TcpStream::connect_timeout(&address, timeout)
        .with_context(|| format!("cannot connect to {authority}"))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    // One write: `write!` on the bare stream sends every formatted piece separately, and a
    // server that answers after the first piece and closes turns the next into a broken pipe.
    let request = format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .with_context(|| format!("cannot send the request to {authority}"))?;
    let mut head = [0u8; 64];
    let read = stream.read(&mut head).context("no answer")?;
    let line = String::from_utf8_lossy(&head[..read]);
    let Some(status) = line.split(' ').nth(1).and_then(|s| s.parse().ok()) else {
        bail!("not an HTTP answer: {line:?}");
    };
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probing_nothing_fails_clearly() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let err = get_status(
            &format!("http://127.0.0.1:{port}/healthz"),
            Duration::from_secs(1),
        )
        .unwrap_err();
        assert!(err.to_string().contains("cannot connect"), "{err}");
        assert!(get_status("https://x/", Duration::from_secs(1)).is_err());
    }

    #[test]
    fn reads_the_status_line() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            // Answer only once the whole request head is in, as a real server does.
            let mut request = Vec::new();
            let mut buf = [0u8; 256];
            while !request.ends_with(b"\r\n\r\n") {
                let n = conn.read(&mut buf).unwrap();
                assert!(n > 0, "the request ended early: {request:?}");
                request.extend_from_slice(&buf[..n]);
            }
            assert!(request.starts_with(b"GET /readyz HTTP/1.1\r\n"));
            conn.write_all(b"HTTP/1.1 503 Service Unavailable\r\n\r\nnot ready")
                .unwrap();
        });
        assert_eq!(
            get_status(
                &format!("http://127.0.0.1:{port}/readyz"),
                Duration::from_secs(2)
            )
            .unwrap(),
            503
        );
        server.join().unwrap();
    }
}
