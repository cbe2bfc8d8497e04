"""``clinflow serve ...``: start the HTTP services with uvicorn (each capability adds one)."""

from __future__ import annotations

from typing import Annotated

import typer

from clinflow.cli_options import DataDirOption

serve_app = typer.Typer(help="Start HTTP services (audit-query API; scoring endpoints).")

HostOption = Annotated[str, typer.Option("--host", help="Interface to bind.")]
PortOption = Annotated[int, typer.Option("--port", help="TCP port.")]


@serve_app.command("api")
def serve_api(
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    data_dir: DataDirOption = None,
    dsn: Annotated[
        str | None,
        typer.Option("--dsn", envvar="CLINFLOW_AUDIT_DSN", help="PostgreSQL DSN for the log."),
    ] = None,
) -> None:
    """Serve the audit-query API (OpenAPI docs at /docs)."""
    import uvicorn

    from clinflow.api.app import create_app
    from clinflow.api.settings import Settings
    from clinflow.config import DataDir

    settings = Settings.from_env(data_dir=DataDir.open(data_dir), dsn=dsn)
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")
