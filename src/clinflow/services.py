"""How a running service tells other processes of the deployment where it is.

``clinflow serve scoring|all`` writes ``<data-dir>/services/<name>.json`` (0600: it holds the
service token) with its URL, pid and a random bearer token it accepts for service calls such
as retraction. A CLI process (``consent revoke``) reads it to reach the live service instead
of touching state the service owns. The file stays when the service stops: the state still
belongs to that service (it restores it when it starts again), so a revocation reports it
unreached until the service is back (``--retry``). Each start writes a fresh token.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from clinflow.config import DataDir
from clinflow.errors import ConfigError

if TYPE_CHECKING:
    from clinflow.api.auth import Authenticator


@dataclass(frozen=True, slots=True)
class ServiceRegistration:
    name: str
    url: str
    token: str
    pid: int


def registration_path(data_dir: DataDir, name: str) -> Path:
    return data_dir.services / f"{name}.json"


def new_service_token() -> str:
    return secrets.token_urlsafe(32)


def write_registration(data_dir: DataDir, registration: ServiceRegistration) -> Path:
    """Write atomically with mode 0600 (the token must not be world-readable)."""
    folder = data_dir.services
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = registration_path(data_dir, registration.name)
    temp = path.with_suffix(".tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(
            orjson.dumps(
                {
                    "name": registration.name,
                    "url": registration.url,
                    "token": registration.token,
                    "pid": registration.pid,
                }
            )
        )
    os.replace(temp, path)
    return path


def read_registration(data_dir: DataDir, name: str) -> ServiceRegistration | None:
    path = registration_path(data_dir, name)
    try:
        raw = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, orjson.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: unreadable service registration") from exc
    try:
        return ServiceRegistration(
            str(raw["name"]), str(raw["url"]), str(raw["token"]), int(raw["pid"])
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: malformed service registration") from exc


@contextmanager
def registered_scoring_service(data_dir: DataDir, host: str, port: int) -> Iterator[str]:
    """Register the scoring service of this process (URL + a fresh service token) for the
    deployment's other processes. Yields the token.

    The registration stays when the service stops: the scoring state belongs to the service
    from now on (it restores it at its next start, possibly on another machine), so a
    revocation while it is down is reported incomplete and finished by ``--retry`` once it
    is back, instead of editing state behind the owner's back.
    """
    token = new_service_token()
    reach = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    url = f"http://[{reach}]:{port}" if ":" in reach else f"http://{reach}:{port}"
    write_registration(data_dir, ServiceRegistration("scoring", url, token, os.getpid()))
    yield token


def scoring_authenticator(data_dir: DataDir, service_token: str) -> Authenticator:
    """Who may call the scoring service: the deployment's API tokens (``clinflow audit token
    create``; role ``scoring`` for clients) plus this start's registered service token."""
    from clinflow.api.auth import Authenticator, TokenStore, api_tokens_path

    return Authenticator(TokenStore(api_tokens_path(data_dir)), deployment_token=service_token)
