//! A delaying HTTP/1.1 proxy on 127.0.0.1: each request waits `delay` before it is forwarded
//! to the upstream server (as a distant object store would answer later), and the answer is
//! relayed back. One thread and one upstream connection per client connection, kept alive.
//! The bench runs it in a process of its own ([`ProxyProcess`]: the bench binary started as
//! `delay-proxy UPSTREAM MS`), so that the CPU time the bench counts as the client's is the
//! client's alone. It handles what S3 clients send for
//! reads (GET, HEAD, LIST without bodies or with a `Content-Length`) and answers with a
//! `Content-Length` (as moto does).
//!
//! The proxy shares the machine's cores with the clients it measures, so it must cost them
//! little: on Linux a response body goes from socket to socket through a pipe with
//! `splice(2)`, never copied into the proxy's memory (a copying relay took a fifth of the
//! CPU of a read at 1 GB/s on two cores).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A proxy in a child process; it ends when this is dropped.
pub(crate) struct ProxyProcess {
    child: Child,
    addr: SocketAddr,
}

impl ProxyProcess {
    /// Starts `exe delay-proxy UPSTREAM MS` (see [`serve`]) and reads the address it listens on.
    pub(crate) fn spawn(exe: &std::path::Path, upstream: SocketAddr, delay: Duration) -> Self {
        let mut child = Command::new(exe)
            .arg("delay-proxy")
            .arg(upstream.to_string())
            .arg(delay.as_millis().to_string())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the proxy process");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("the proxy's stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the proxy's address");
        let addr = line.trim().parse().expect("the proxy prints its address");
        ProxyProcess { child, addr }
    }

    /// `http://127.0.0.1:port`.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The proxy's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ProxyProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The child's side of [`ProxyProcess`]: serves `upstream` with `delay_ms` added to each
/// request, after printing its address, until it is killed.
pub(crate) fn serve(upstream: &str, delay_ms: &str) -> ! {
    let upstream = upstream.parse().expect("the upstream address");
    let delay = Duration::from_millis(delay_ms.parse().expect("the delay in ms"));
    println!("{}", listen(upstream, delay));
    std::io::stdout().flush().expect("print the address");
    loop {
        std::thread::park();
    }
}

/// Starts the proxy in front of `upstream` (`127.0.0.1:port`) in threads of this process,
/// for as long as it runs; returns the address it listens on.
fn listen(upstream: SocketAddr, delay: Duration) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
    let addr = listener.local_addr().expect("the proxy's address");
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let _ = relay(client, upstream, delay);
            });
        }
    });
    addr
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
    // Small, so that little of a body is read with the head: the rest is spliced.
    let mut from_server = BufReader::with_capacity(1 << 14, server);
    let mut relay_body = BodyRelay::new()?;
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
            relay_body.relay(&mut from_server, &mut to_client, content_length(&response))?;
        }
    }
    Ok(())
}

/// Relays bodies of known length: first what the reader holds already, then the rest, on
/// Linux through a pipe with `splice(2)`, elsewhere copied through the proxy's memory.
struct BodyRelay {
    #[cfg(target_os = "linux")]
    pipe: splice::Pipe,
}

impl BodyRelay {
    fn new() -> std::io::Result<BodyRelay> {
        Ok(BodyRelay {
            #[cfg(target_os = "linux")]
            pipe: splice::Pipe::new()?,
        })
    }

    fn relay(
        &mut self,
        from: &mut BufReader<TcpStream>,
        to: &mut TcpStream,
        length: u64,
    ) -> std::io::Result<()> {
        let held = (from.buffer().len() as u64).min(length) as usize;
        to.write_all(&from.buffer()[..held])?;
        from.consume(held);
        let rest = length - held as u64;
        #[cfg(target_os = "linux")]
        return self.pipe.splice_all(from.get_ref(), to, rest);
        #[cfg(not(target_os = "linux"))]
        std::io::copy(&mut from.get_mut().take(rest), to).map(drop)
    }
}

#[cfg(target_os = "linux")]
mod splice {
    use std::io::{Error, ErrorKind, Result};
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    /// A pipe, between the two sockets.
    pub(super) struct Pipe {
        read: OwnedFd,
        write: OwnedFd,
        capacity: usize,
    }

    impl Pipe {
        pub(super) fn new() -> Result<Pipe> {
            let mut fds = [0; 2];
            // SAFETY: `fds` has room for the two descriptors `pipe2` writes.
            if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
                return Err(Error::last_os_error());
            }
            // SAFETY: both descriptors were just opened and are owned by nothing else.
            let (read, write) =
                unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
            // A larger pipe moves a chunk in fewer calls; the default (64 KiB) if refused.
            // SAFETY: F_SETPIPE_SZ and F_GETPIPE_SZ take and return plain integers.
            let capacity = unsafe {
                libc::fcntl(write.as_raw_fd(), libc::F_SETPIPE_SZ, 1 << 20);
                libc::fcntl(write.as_raw_fd(), libc::F_GETPIPE_SZ)
            };
            Ok(Pipe {
                read,
                write,
                capacity: capacity.max(4096) as usize,
            })
        }

        /// Moves `length` bytes from `from` to `to` through the pipe.
        pub(super) fn splice_all(
            &self,
            from: &impl AsRawFd,
            to: &impl AsRawFd,
            mut length: u64,
        ) -> Result<()> {
            while length > 0 {
                let want = length.min(self.capacity as u64) as usize;
                let mut piped = splice(from.as_raw_fd(), self.write.as_raw_fd(), want)?;
                if piped == 0 {
                    return Err(Error::new(ErrorKind::UnexpectedEof, "the body ended early"));
                }
                length -= piped as u64;
                while piped > 0 {
                    piped -= splice(self.read.as_raw_fd(), to.as_raw_fd(), piped)?;
                }
            }
            Ok(())
        }
    }

    /// One `splice(2)` call of at most `length` bytes, retried when interrupted.
    fn splice(from: i32, to: i32, length: usize) -> Result<usize> {
        loop {
            // Not SPLICE_F_MORE: like MSG_MORE it holds a last partial segment back (up to
            // 200 ms) for data that would never come.
            let flags = libc::SPLICE_F_MOVE;
            // SAFETY: both are open descriptors, and null offsets mean "the current one",
            // as splice(2) requires for sockets and pipes.
            let moved = unsafe {
                libc::splice(
                    from,
                    std::ptr::null_mut(),
                    to,
                    std::ptr::null_mut(),
                    length,
                    flags,
                )
            };
            if moved >= 0 {
                return Ok(moved as usize);
            }
            let error = Error::last_os_error();
            if error.kind() != ErrorKind::Interrupted {
                return Err(error);
            }
        }
    }
}
