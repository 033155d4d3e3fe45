"""make smoke's SnapStart pass: the Runtime API proxy and the checks it feeds."""

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
import requests
from local.snapstart_runtime import RESTORE_NEXT, proxy_handler

from local import smoke


class Upstream(BaseHTTPRequestHandler):
    """The emulator's Runtime API: records what reaches it, answers 404 to restore/next as the emulator does."""

    seen: ClassVar[list[tuple[str, str, bytes]]] = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        Upstream.seen.append((self.command, self.path, self.rfile.read(length) if length else b""))
        status = 404 if self.path == RESTORE_NEXT else 202 if self.command == "POST" else 200
        body = json.dumps({"path": self.path}).encode()
        self.send_response(status)
        self.send_header("Lambda-Runtime-Aws-Request-Id", "req-1")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer  # noqa: N815 - http.server's method names

    def log_message(self, format: str, *args: object) -> None:
        return


def serve(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"127.0.0.1:{server.server_address[1]}"


@pytest.fixture
def proxied() -> Iterator[tuple[str, list[str]]]:
    Upstream.seen = []
    checkpoints: list[str] = []
    with smoke.checkpoint_server(lambda: checkpoints.append("snapshot")) as checkpoint:
        upstream, upstream_address = serve(Upstream)
        proxy, proxy_address = serve(proxy_handler(upstream_address, checkpoint))
        yield f"http://{proxy_address}", checkpoints
        for server in (proxy, upstream):
            server.shutdown()
            server.server_close()


def test_restore_next_calls_the_checkpoint_and_answers_200_without_reaching_the_emulator(
    proxied: tuple[str, list[str]],
) -> None:
    base, checkpoints = proxied
    assert requests.get(base + RESTORE_NEXT, timeout=5).status_code == 200
    assert checkpoints == ["snapshot"]
    assert Upstream.seen == []


def test_every_other_call_is_forwarded_unchanged(proxied: tuple[str, list[str]]) -> None:
    base, checkpoints = proxied
    answer = requests.get(base + "/2018-06-01/runtime/invocation/next", timeout=5)
    assert (answer.status_code, answer.headers["Lambda-Runtime-Aws-Request-Id"]) == (200, "req-1")
    posted = requests.post(
        base + "/2018-06-01/runtime/invocation/req-1/response", data=b'{"statusCode": 201}', timeout=5
    )
    assert posted.status_code == 202
    assert Upstream.seen == [
        ("GET", "/2018-06-01/runtime/invocation/next", b""),
        ("POST", "/2018-06-01/runtime/invocation/req-1/response", b'{"statusCode": 201}'),
    ]
    assert checkpoints == []


def test_the_runtime_is_started_with_the_proxy_and_the_snap_start_initialisation_type() -> None:
    server, address = serve(Upstream)
    script = Path(smoke.SNAPSTART_RUNTIME)
    printed = subprocess.run(  # noqa: S603 - this interpreter and the project's own script
        [
            sys.executable,
            str(script),
            "--",
            sys.executable,
            "-c",
            "import os; print(os.environ['AWS_LAMBDA_RUNTIME_API'], os.environ['AWS_LAMBDA_INITIALIZATION_TYPE'])",
        ],
        env={"AWS_LAMBDA_RUNTIME_API": address, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.split()
    server.shutdown()
    server.server_close()
    assert printed[1] == "snap-start"
    assert printed[0].startswith("127.0.0.1:")
    assert printed[0] != address


def test_the_snapshot_checks_pass_only_for_a_clean_snapshot() -> None:
    good_log = f"init\n{smoke.BEFORE_SNAPSHOT_LOG}\n{smoke.AFTER_RESTORE_LOG}\ninvoke\n"

    def failures(log: str, reads: list[int]) -> list[str]:
        return [name for name, failure in smoke.snapshot_checks("Fn", log, reads) if failure]

    assert failures(good_log, [0]) == []
    assert failures(good_log, [1]) == ["Fn snap-start: no secret read before the snapshot"]
    assert failures(good_log, []) == [
        "Fn snap-start: init reached the snapshot once",
        "Fn snap-start: no secret read before the snapshot",
    ]
    assert failures(f"{smoke.AFTER_RESTORE_LOG}\n{smoke.BEFORE_SNAPSHOT_LOG}\n", [0]) == [
        "Fn snap-start: after-restore hook ran after it"
    ]
    assert failures("init\n", [0]) == [
        "Fn snap-start: before-snapshot hook ran",
        "Fn snap-start: after-restore hook ran after it",
    ]
