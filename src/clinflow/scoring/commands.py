"""``clinflow serve scoring``: the mock scoring endpoints over HTTP (uvicorn)."""

from __future__ import annotations

from typing import Annotated

import typer

from clinflow.cli_options import DataDirOption, HostOption, PortOption
from clinflow.errors import ConfigError


def serve_scoring(
    host: HostOption = "127.0.0.1",
    port: PortOption = 8001,
    data_dir: DataDirOption = None,
    policy: Annotated[
        str | None,
        typer.Option("--policy", help="Endpoints policy YAML (default policies/endpoints.yaml)."),
    ] = None,
    audit: Annotated[
        bool,
        typer.Option(
            "--audit/--no-audit",
            help="Append scores and alerts to audit.db (access is always audited).",
        ),
    ] = True,
    access_log: Annotated[
        bool, typer.Option("--access-log/--no-access-log", help="Log every request line.")
    ] = False,
) -> None:
    """Serve the MOCK ICU (NEWS2, qSOFA) and triage (ESI-style) endpoints; docs at /docs.

    Mock clinical models for simulation only. Requests carrying race, ethnicity or any field
    not listed in the endpoints policy are refused with 422. Every route but /healthz and the
    docs needs a bearer token (`clinflow audit token create --role scoring`).
    """
    import gc

    import uvicorn

    from clinflow.config import DataDir
    from clinflow.runtime.deployment import Deployment
    from clinflow.scoring.app import create_app
    from clinflow.scoring.policy import load_policy
    from clinflow.services import registered_scoring_service, scoring_authenticator

    if not 0 < port < 65536:
        raise ConfigError(f"--port: {port} is not a TCP port")
    from clinflow.api.settings import Limits

    loaded = load_policy(policy)  # PolicyError names the file and field
    limits = Limits.from_env()
    directory = DataDir.open(data_dir)
    with Deployment.open(directory) as deployment:
        service = deployment.scoring(loaded)
        if not audit:
            service.audit = None
        with registered_scoring_service(directory, host, port) as token:
            app = create_app(
                service,
                authenticator=scoring_authenticator(directory, token),
                limits=limits,
                access_audit=deployment.audit,  # access is audited even with --no-audit
            )
            # Long-lived server: move start-up objects out of the collector's way and collect
            # cycles less often (refcounting frees the per-request garbage) — fewer tail pauses.
            gc.freeze()
            gc.set_threshold(50_000, 20, 20)
            uvicorn.run(app, host=host, port=port, access_log=access_log, log_level="warning")
