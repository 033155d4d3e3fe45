"""Run a runtime the way Lambda SnapStart initialises it, under the Runtime Interface Emulator (make smoke).

The emulator has no SnapStart: it answers 404 to the Runtime API's `GET /2018-06-01/runtime/restore/next`, which
awslambdaric calls when `AWS_LAMBDA_INITIALIZATION_TYPE=snap-start` once init is done and its before-snapshot hooks
have run (Lambda takes the snapshot while that call is pending, and answers it in the restored copy). This wrapper
stands between the runtime and the emulator:

    aws-lambda-rie ... python snapstart_runtime.py --checkpoint URL -- python3.13 -m awslambdaric <Handler>

It starts a Runtime API proxy on 127.0.0.1 that forwards every call to the emulator's Runtime API unchanged, except
`restore/next`: there it first calls `--checkpoint` (GET; the smoke run records, at the moment the snapshot would be
taken, what the function has done so far), then answers 200 so the runtime runs its after-restore hooks and goes on
to its first invocation. The runtime is started with the proxy's address and the snap-start initialisation type.

Standard library only: it runs with whatever Python the emulator is given.
"""

import argparse
import http.client
import os
import subprocess
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RESTORE_NEXT = "/2018-06-01/runtime/restore/next"
FORWARDED_HEADERS_SKIPPED = frozenset({"connection", "keep-alive", "transfer-encoding", "host"})


def proxy_handler(upstream: str, checkpoint: str | None) -> type[BaseHTTPRequestHandler]:
    class RuntimeApiProxy(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            return  # the function's log is the runtime's; the proxy adds nothing to it

        def _answer(self, status: int, body: bytes, headers: list[tuple[str, str]]) -> None:
            self.send_response(status)
            for name, value in headers:
                if name.lower() not in FORWARDED_HEADERS_SKIPPED and name.lower() != "content-length":
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _forward(self) -> None:
            if self.path == RESTORE_NEXT:
                if checkpoint:
                    with urllib.request.urlopen(checkpoint, timeout=30) as answer:  # noqa: S310 - loopback URL
                        answer.read()
                self._answer(200, b"", [])
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            connection = http.client.HTTPConnection(upstream, timeout=None)  # next-invocation long-polls
            try:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in FORWARDED_HEADERS_SKIPPED}
                connection.request(self.command, self.path, body=body, headers=headers)
                answer = connection.getresponse()
                self._answer(answer.status, answer.read(), answer.getheaders())
            finally:
                connection.close()

        do_GET = do_POST = _forward  # noqa: N815 - http.server's method names

    return RuntimeApiProxy


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="URL called (GET) when the runtime asks restore/next")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the runtime's command line")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    upstream = os.environ["AWS_LAMBDA_RUNTIME_API"]  # set by the emulator
    server = ThreadingHTTPServer(("127.0.0.1", 0), proxy_handler(upstream, args.checkpoint))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {
        **os.environ,
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start",
    }
    try:
        return subprocess.call(command, env=env)  # noqa: S603 - the argv the smoke run gave
    finally:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    sys.exit(main())
