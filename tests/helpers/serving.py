"""Run a ``clinflow serve ...`` command as a real process for a test (shared by the serve tests)."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(
    args: Sequence[str],
    ready_urls: Sequence[str],
    *,
    start_timeout: float = 30,
    stop_signal: signal.Signals = signal.SIGTERM,
    stop_timeout: float = 15,
) -> Iterator[list[httpx.Response]]:
    """Start ``python -m clinflow *args``, wait until every URL answers 200, stop it afterwards.

    Yields the first 200 response of each ready URL. Fails (AssertionError) if the process exits
    or does not answer within ``start_timeout`` seconds.
    """
    server = subprocess.Popen(
        [sys.executable, "-m", "clinflow", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + start_timeout
        ready: list[httpx.Response] = []
        for url in ready_urls:
            while True:
                try:
                    response = httpx.get(url, timeout=2)
                    if response.status_code == 200:
                        ready.append(response)
                        break
                except httpx.TransportError:
                    pass
                assert server.poll() is None, "server exited"
                assert time.monotonic() < deadline, f"server did not start in {start_timeout:g} s"
                time.sleep(0.2)
        yield ready
    finally:
        server.send_signal(stop_signal)
        try:
            server.wait(timeout=stop_timeout)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
