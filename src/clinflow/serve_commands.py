"""``clinflow serve ...``: start the HTTP services with uvicorn (each capability adds one)."""

from __future__ import annotations

from typing import Annotated

import typer

from clinflow.cli_options import DataDirOption, HostOption, PortOption

serve_app = typer.Typer(help="Start HTTP services (audit-query API; scoring endpoints).")

DsnOption = Annotated[
    str | None,
    typer.Option("--dsn", envvar="CLINFLOW_AUDIT_DSN", help="PostgreSQL DSN for the log."),
]


@serve_app.command("api")
def serve_api(
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    data_dir: DataDirOption = None,
    dsn: DsnOption = None,
) -> None:
    """Serve the audit-query API (OpenAPI docs at /docs)."""
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
    dsn: DsnOption = None,
) -> None:
    """Serve the audit-query API and the MOCK scoring endpoints from one process."""
    import asyncio

    import uvicorn

    from clinflow.api.app import create_app
    from clinflow.api.settings import Settings
    from clinflow.audit import AuditLog
    from clinflow.config import DataDir
    from clinflow.errors import ConfigError
    from clinflow.scoring.app import create_app as create_scoring_app
    from clinflow.scoring.policy import load_policy
    from clinflow.scoring.service import ScoringService

    for name, port in (("--api-port", api_port), ("--scoring-port", scoring_port)):
        if not 0 < port < 65536:
            raise ConfigError(f"{name}: {port} is not a TCP port")
    if api_port == scoring_port:
        raise ConfigError("--api-port and --scoring-port must differ")
    deployment = DataDir.open(data_dir)
    settings = Settings.from_env(data_dir=deployment, dsn=dsn)
    with AuditLog.open(deployment, dsn=dsn) as scoring_audit:
        scoring = ScoringService(load_policy(None), audit=scoring_audit)
        servers = [
            uvicorn.Server(
                uvicorn.Config(create_app(settings), host=host, port=api_port, log_level="info")
            ),
            uvicorn.Server(
                uvicorn.Config(
                    create_scoring_app(scoring), host=host, port=scoring_port, log_level="warning"
                )
            ),
        ]

        async def serve_both() -> None:
            await asyncio.gather(*(server.serve() for server in servers))

        asyncio.run(serve_both())
