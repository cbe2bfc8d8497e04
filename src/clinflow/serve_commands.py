"""``clinflow serve ...``: start the HTTP services with uvicorn (each capability adds one)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from clinflow.cli_options import AuditDsnOption, DataDirOption, HostOption, PortOption

if TYPE_CHECKING:
    from fastapi import FastAPI

    from clinflow.api.settings import Settings
    from clinflow.runtime.deployment import Deployment
    from clinflow.scoring.app import ScoringApp

serve_app = typer.Typer(help="Start HTTP services (audit-query API; scoring endpoints).")


@serve_app.command("api")
def serve_api(
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    data_dir: DataDirOption = None,
    dsn: AuditDsnOption = None,
) -> None:
    """Serve the audit-query API (OpenAPI docs at /docs) and the browser dashboard
    (/dashboard: sign in with a token from `clinflow audit token create`)."""
    import uvicorn

    from clinflow.api.app import create_app
    from clinflow.api.settings import Settings
    from clinflow.config import DataDir

    settings = Settings.from_env(data_dir=DataDir.open(data_dir), dsn=dsn)
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


@serve_app.command("all")
def serve_all(
    host: HostOption = "127.0.0.1",
    api_port: Annotated[int, typer.Option("--api-port", help="Audit-query API port.")] = 8000,
    scoring_port: Annotated[
        int, typer.Option("--scoring-port", help="Scoring endpoints port.")
    ] = 8001,
    data_dir: DataDirOption = None,
    dsn: AuditDsnOption = None,
) -> None:
    """Serve the audit-query API and the MOCK scoring endpoints from one process.

    One deployment, one audit log: both apps share the data directory's stores. The scoring
    state is restored from <data-dir>/scoring.db (what `clinflow demo` or `run` scored), and
    the service registers itself in <data-dir>/services/scoring.json so a `consent revoke`
    from another process retracts through it. Both apps take bearer tokens from the same
    store (`clinflow audit token create --role auditor|privacy_officer|service|patient|scoring`).
    The browser dashboard is at http://HOST:API-PORT/dashboard (docs/adr/0101).
    """
    import asyncio

    import uvicorn

    from clinflow.api.settings import Settings
    from clinflow.config import DataDir
    from clinflow.errors import ConfigError
    from clinflow.runtime.deployment import Deployment
    from clinflow.services import registered_scoring_service

    for name, port in (("--api-port", api_port), ("--scoring-port", scoring_port)):
        if not 0 < port < 65536:
            raise ConfigError(f"{name}: {port} is not a TCP port")
    if api_port == scoring_port:
        raise ConfigError("--api-port and --scoring-port must differ")
    root = DataDir.open(data_dir)
    settings = Settings.from_env(data_dir=root, dsn=dsn)
    with Deployment.open(root, dsn=dsn) as deployment:
        with registered_scoring_service(root, host, scoring_port) as token:
            api, scoring = serve_all_apps(settings, deployment, token)
            servers = [
                uvicorn.Server(uvicorn.Config(api, host=host, port=api_port, log_level="info")),
                uvicorn.Server(
                    uvicorn.Config(scoring, host=host, port=scoring_port, log_level="warning")
                ),
            ]

            print(f"dashboard: http://{host}:{api_port}/dashboard", flush=True)

            async def serve_both() -> None:
                await asyncio.gather(*(server.serve() for server in servers))

            asyncio.run(serve_both())


def serve_all_apps(
    settings: Settings, deployment: Deployment, service_token: str
) -> tuple[FastAPI, ScoringApp]:
    """The two apps of ``serve all`` over one deployment: the audit-query API (with consent)
    and the scoring endpoints (the access-matrix test enumerates both from here)."""
    from clinflow.api.app import create_app
    from clinflow.scoring.app import create_app as create_scoring_app
    from clinflow.services import scoring_authenticator

    scoring = create_scoring_app(
        deployment.scoring(),
        authenticator=scoring_authenticator(settings.data_dir, service_token),
        limits=settings.limits,
    )
    return create_app(settings, deployment), scoring
