#!/usr/bin/env python3
"""An HTTP proxy in front of a local S3 server, for chunkwise's object storage tests and
benchmark: it forwards every request to UPSTREAM, after DELAY_MS milliseconds, and answers
the first FAIL requests of each method and path (of the paths that contain ONLY) with
`503 Slow Down` instead.

    s3_proxy.py PORT UPSTREAM [--delay-ms DELAY_MS] [--fail FAIL] [--only ONLY]

`GET /__stats` answers the most requests it has had in flight at once (and resets it).
Listens on 127.0.0.1:PORT only, keeps connections alive (HTTP/1.1), prints `ready` once it
listens, and stops when its standard input closes (so it never outlives the test that
started it).
"""

import argparse
import http.client
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}


def serve(port, upstream, delay, fail, only):
    target = urllib.parse.urlsplit(upstream)
    failures = {}
    lock = threading.Lock()
    load = {"now": 0, "max": 0}
    local = threading.local()

    def connection():
        if getattr(local, "conn", None) is None:
            local.conn = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
        return local.conn

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def forward(self):
            if self.path == "/__stats":
                with lock:
                    most, load["max"] = load["max"], 0
                body = str(most).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            with lock:
                load["now"] += 1
                load["max"] = max(load["max"], load["now"])
            self.counted = True
            try:
                self.relay()
            finally:
                self.answered()

        def answered(self):
            # Counted out before the answer is written: once a client has the whole answer
            # it may send its next request, which must not find this one still counted.
            if self.counted:
                self.counted = False
                with lock:
                    load["now"] -= 1

        def relay(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            key = (self.command, self.path.split("?")[0])
            with lock:
                seen = failures.get(key, 0)
                failures[key] = seen + 1
            if delay:
                time.sleep(delay)
            if seen < fail and only in self.path:
                message = b"<Error><Code>SlowDown</Code><Message>injected</Message></Error>"
                self.answered()
                self.send_response(503)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(message)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(message)
                return
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            for attempt in range(2):
                conn = connection()
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    response = conn.getresponse()
                    data = response.read()
                    break
                except (http.client.HTTPException, OSError):
                    conn.close()
                    local.conn = None
                    if attempt == 1:
                        raise
            self.answered()
            self.send_response(response.status, response.reason)
            for k, v in response.getheaders():
                # A HEAD answer's length is the object's: passed on as it is.
                if k.lower() not in HOP_BY_HOP and (k.lower() != "content-length" or self.command == "HEAD"):
                    self.send_header(k, v)
            if self.command != "HEAD":
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = forward

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print("ready", flush=True)
    sys.stdin.read()
    server.shutdown()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", type=int)
    parser.add_argument("upstream")
    parser.add_argument("--delay-ms", type=float, default=0.0)
    parser.add_argument("--fail", type=int, default=0)
    parser.add_argument("--only", default="")
    args = parser.parse_args()
    serve(args.port, args.upstream, args.delay_ms / 1000.0, args.fail, args.only)


if __name__ == "__main__":
    main()
