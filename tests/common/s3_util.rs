//! Local servers for the object storage tests: moto's S3 server, a proxy in front of it
//! that delays or fails requests (tests/interop/s3_proxy.py), and Python's HTTP server, each
//! started by the test on 127.0.0.1 on a free port and stopped when dropped. Shared by the
//! library's tests and the command-line tool's.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chunkwise::io::zarr::{RemoteOptions, Retries};

/// The credentials the tests give moto (which accepts any unless told otherwise).
pub const KEY: &str = "chunkwise-test";
pub const SECRET: &str = "chunkwise-secret";

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A server process of this test, killed when dropped.
pub struct Server {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl Server {
    /// Starts `python` with the arguments `args(port)` for a free port, and waits until
    /// that process listens on it. Another test may take the same free port between the
    /// check and the server's bind: the server then exits while the port answers for the
    /// other test, so the port must be this process's, and it starts again on another.
    pub fn start(
        python: &Path,
        args: impl Fn(&str) -> Vec<String>,
        envs: &[(&str, &str)],
    ) -> Server {
        for _ in 0..5 {
            let port = free_port();
            let args = args(&port.to_string());
            let mut command = Command::new(python);
            command
                .args(&args)
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            for (k, v) in envs {
                command.env(k, v);
            }
            let mut child = command
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {} {args:?}: {e}", python.display()));
            let start = Instant::now();
            while child.try_wait().is_ok_and(|status| status.is_none()) {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() && listens(child.id(), port) {
                    return Server { child, port };
                }
                assert!(
                    start.elapsed() < Duration::from_secs(60),
                    "{args:?} did not listen on port {port} within 60 s"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        panic!(
            "{} {:?} exited before listening, five times",
            python.display(),
            args("PORT")
        );
    }

    /// `http://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `python` (the interop venv's) if it has moto's server and s3fs; `None` (the test
/// skipped) only where `CHUNKWISE_REQUIRE_INTEROP` is not `1`.
pub fn with_moto(python: Option<PathBuf>) -> Option<PathBuf> {
    let ok = python.as_ref().is_some_and(|python| {
        Command::new(python)
            .args(["-c", "import moto.server, boto3, s3fs"])
            .status()
            .is_ok_and(|s| s.success())
    });
    if ok {
        return python;
    }
    let setup = "target/zarr-venv/bin/pip install 'moto[server]' s3fs";
    if std::env::var("CHUNKWISE_REQUIRE_INTEROP").as_deref() == Ok("1") {
        panic!("CHUNKWISE_REQUIRE_INTEROP=1 but moto[server] or s3fs is missing: {setup}");
    }
    println!("skipped: moto[server] or s3fs missing ({setup})");
    None
}

/// Whether process `pid` has a socket listening on 127.0.0.1:`port` (Linux: its open
/// descriptors against /proc/net/tcp; elsewhere assumed, as the connection succeeded).
fn listens(pid: u32, port: u16) -> bool {
    let Ok(table) = std::fs::read_to_string("/proc/net/tcp") else {
        return true;
    };
    let sockets: Vec<String> = table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let local_port = u16::from_str_radix(fields.get(1)?.rsplit(':').next()?, 16).ok()?;
            let (listening, inode) = (*fields.get(3)? == "0A", fields.get(9)?);
            (local_port == port && listening).then(|| format!("socket:[{inode}]"))
        })
        .collect();
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path())
            .is_ok_and(|link| sockets.iter().any(|s| link.as_os_str() == s.as_str()))
    })
}

/// moto's S3 server on a free port (`envs` for its settings).
pub fn moto(python: &Path, envs: &[(&str, &str)]) -> Server {
    let args = |port: &str| {
        ["-m", "moto.server", "-H", "127.0.0.1", "-p", port]
            .map(String::from)
            .to_vec()
    };
    Server::start(python, args, envs)
}

/// The helper script `name` of tests/interop, from the library's tests or the tool's.
fn interop_script(name: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    [root.join("tests/interop"), root.join("../tests/interop")]
        .into_iter()
        .map(|dir| dir.join(name))
        .find(|script| script.is_file())
        .unwrap_or_else(|| panic!("tests/interop/{name} not found from {}", root.display()))
}

/// A moto server that checks credentials (from its fifth request on), with an IAM user
/// that has every S3 right and the bucket `bucket`: the server, and the user's key id and
/// secret.
pub fn moto_with_user(python: &Path, bucket: &str) -> (Server, String, String) {
    let moto = moto(python, &[("INITIAL_NO_AUTH_ACTION_COUNT", "4")]);
    let out = std::process::Command::new(python)
        .arg(interop_script("s3_auth_setup.py"))
        .args([moto.url().as_str(), bucket])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let (id, secret) = text.trim().split_once(' ').expect("KEY_ID SECRET");
    let (id, secret) = (id.to_string(), secret.to_string());
    (moto, id, secret)
}

/// The failure-injecting, delaying proxy in front of `upstream`: each request waits
/// `delay_ms`, and the first `fail` requests of each path that contains `only` get a 503.
pub fn proxy(python: &Path, upstream: &Server, delay_ms: u32, fail: u32, only: &str) -> Server {
    let script = interop_script("s3_proxy.py");
    let (delay, fail) = (delay_ms.to_string(), fail.to_string());
    let script = script.to_string_lossy().into_owned();
    let upstream = upstream.url();
    let args = |port: &str| {
        [
            script.as_str(),
            port,
            &upstream,
            "--delay-ms",
            &delay,
            "--fail",
            &fail,
            "--only",
            only,
        ]
        .map(String::from)
        .to_vec()
    };
    Server::start(python, args, &[])
}

/// Python's HTTP server on `dir`.
pub fn http_server(python: &Path, dir: &Path) -> Server {
    let dir = dir.to_string_lossy().into_owned();
    let args = |port: &str| {
        [
            "-m",
            "http.server",
            port,
            "--bind",
            "127.0.0.1",
            "--directory",
            &dir,
        ]
        .map(String::from)
        .to_vec()
    };
    Server::start(python, args, &[])
}

/// Sends one unsigned HTTP request to 127.0.0.1:`port` (moto does not check signatures
/// unless told to) and returns the status code.
pub fn request(port: u16, method: &str, path: &str) -> u16 {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut status = String::new();
    BufReader::new(&mut stream).read_line(&mut status).unwrap();
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest);
    status
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// The most requests the proxy at `port` has had in flight at once since the last call.
pub fn most_in_flight(port: u16) -> usize {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(
        stream,
        "GET /__stats HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    let _ = stream.read_to_string(&mut text);
    text.rsplit("\r\n\r\n")
        .next()
        .and_then(|body| body.trim().parse().ok())
        .expect("the proxy's stats")
}

/// Stores `value` under `path` (`bucket/key`) on the S3 server at `endpoint`, with s3fs
/// (`python` has it): bytes that chunkwise would not write, such as a damaged chunk.
pub fn put_object(python: &Path, endpoint: &str, path: &str, value: &[u8]) {
    let put = "import sys, s3fs\n\
               fs = s3fs.S3FileSystem(key=sys.argv[2], secret=sys.argv[3],\n\
                   client_kwargs={'endpoint_url': sys.argv[1], 'region_name': 'us-east-1'})\n\
               fs.pipe(sys.argv[4], sys.stdin.buffer.read())";
    let mut child = Command::new(python)
        .args(["-c", put, endpoint, KEY, SECRET, path])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start python");
    child
        .stdin
        .take()
        .expect("its stdin")
        .write_all(value)
        .expect("write the value");
    let out = child.wait_with_output().expect("python ends");
    assert!(
        out.status.success(),
        "put {path}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Creates the bucket `name` on the server at `port`.
pub fn create_bucket(port: u16, name: &str) {
    let status = request(port, "PUT", &format!("/{name}"));
    assert_eq!(status, 200, "creating bucket {name}");
}

/// Options that reach the S3 server at `endpoint` with the tests' credentials, retrying
/// quickly.
pub fn options(endpoint: &str) -> RemoteOptions {
    RemoteOptions::default()
        .endpoint(endpoint)
        .region("us-east-1")
        .credentials(KEY, SECRET, None)
        .retries(
            Retries::default()
                .max_retries(3)
                .backoff(Duration::from_millis(10), Duration::from_millis(100))
                .timeout(Duration::from_secs(30)),
        )
}
