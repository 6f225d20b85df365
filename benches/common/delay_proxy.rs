//! A delaying HTTP/1.1 proxy on 127.0.0.1, in threads of the bench itself: each request
//! waits `delay` before it is forwarded to the upstream server (as a distant object store
//! would answer later), and the answer is relayed back. One thread and one upstream
//! connection per client connection, kept alive. It handles what S3 clients send for
//! reads (GET, HEAD, LIST without bodies or with a `Content-Length`) and answers with a
//! `Content-Length` (as moto does), so that it costs the measured clients less CPU than the
//! Python proxy of the tests.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

/// The proxy: its address; it runs until the process ends.
pub(crate) struct DelayProxy {
    pub(crate) addr: SocketAddr,
}

impl DelayProxy {
    /// Starts a proxy in front of `upstream` (`127.0.0.1:port`).
    pub(crate) fn start(upstream: SocketAddr, delay: Duration) -> DelayProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let addr = listener.local_addr().expect("the proxy's address");
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                std::thread::spawn(move || {
                    let _ = relay(client, upstream, delay);
                });
            }
        });
        DelayProxy { addr }
    }

    /// `http://127.0.0.1:port`.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// The header block of a request or response (through the blank line), or `None` at the
/// end of the stream.
fn read_head(reader: &mut impl BufRead) -> std::io::Result<Option<Vec<u8>>> {
    let mut head = Vec::new();
    loop {
        let before = head.len();
        if reader.read_until(b'\n', &mut head)? == 0 {
            return Ok(None);
        }
        if head[before..] == *b"\r\n" && before > 0 {
            return Ok(Some(head));
        }
    }
}

/// The `Content-Length` of a header block (0 if none).
fn content_length(head: &[u8]) -> u64 {
    String::from_utf8_lossy(head)
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0)
}

fn relay(client: TcpStream, upstream: SocketAddr, delay: Duration) -> std::io::Result<()> {
    client.set_nodelay(true)?;
    let server = TcpStream::connect(upstream)?;
    server.set_nodelay(true)?;
    let (mut to_client, mut to_server) = (client.try_clone()?, server.try_clone()?);
    let mut from_client = BufReader::with_capacity(1 << 16, client);
    let mut from_server = BufReader::with_capacity(1 << 20, server);
    while let Some(request) = read_head(&mut from_client)? {
        let head_only = request.starts_with(b"HEAD ");
        let mut body = vec![0; content_length(&request) as usize];
        from_client.read_exact(&mut body)?;
        std::thread::sleep(delay);
        to_server.write_all(&request)?;
        to_server.write_all(&body)?;
        let Some(response) = read_head(&mut from_server)? else {
            return Ok(());
        };
        to_client.write_all(&response)?;
        if !head_only {
            let length = content_length(&response);
            std::io::copy(&mut (&mut from_server).take(length), &mut to_client)?;
        }
    }
    Ok(())
}
