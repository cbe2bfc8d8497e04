"""Where each capability's typer commands are attached to the root ``clinflow`` app.

Kept apart from ``cli.py`` so capabilities can add their line without touching the entry
point. Imports are inside the function so ``clinflow --help`` stays fast.
"""

from __future__ import annotations

import typer


def register_all(app: typer.Typer) -> None:
    """Attach every capability's commands to ``app`` (one block per capability)."""
    from clinflow.deid.commands import deid_app

    app.add_typer(deid_app, name="deid")
    from clinflow.labs.commands import lab_app

    app.add_typer(lab_app, name="lab")  # teaching labs: lab list|start|check (issue 16)
    from clinflow.synthetic.commands import register as register_synthetic

    register_synthetic(app)  # synthetic generator: generate
    from clinflow.runtime.commands import demo_command

    app.command("demo")(demo_command)  # embedded pipeline end to end
    from clinflow.runtime.run_command import run_command

    app.command("run")(run_command)  # stream a source into the deployment until stopped
    from clinflow.runtime.replay_command import record_command, replay_command

    app.command("replay")(replay_command)  # load runs: rate, faults, report (issue 15)
    app.command("record")(record_command)  # a stream with its timing into a recording
    from clinflow.runtime.kafka_commands import register as register_worker

    register_worker(app)  # worker: one Kafka pipeline worker (distributed runtime)
    # audit log: audit verify, serve api   -> clinflow.audit.commands
    from clinflow.audit.commands import audit_app
    from clinflow.serve_commands import serve_app

    app.add_typer(audit_app, name="audit")
    # API tokens: audit token create|list|revoke -> clinflow.api.token_commands
    from clinflow.api.token_commands import token_app

    audit_app.add_typer(token_app, name="token")
    app.add_typer(serve_app, name="serve")  # scoring adds `serve scoring` to serve_app
    # de-identification: deid dicom|fhir, leaks -> clinflow.deid.commands
    from clinflow.deid.dicom.cli import register as register_deid_dicom
    from clinflow.deid.leaks.cli import register as register_leaks

    register_deid_dicom(deid_app)
    from clinflow.deid.fhir.cli import register as register_deid_fhir

    register_deid_fhir(deid_app)  # deid fhir
    from clinflow.deid.text.cli import register as register_deid_text

    register_deid_text(deid_app)  # deid text-eval
    register_leaks(app)
    # consent: consent revoke|status       -> clinflow.consent.commands
    from clinflow.consent.commands import consent_app

    app.add_typer(consent_app, name="consent")
    # scoring: serve scoring               -> clinflow.scoring.commands
    from clinflow.scoring.commands import serve_scoring

    serve_app.command("scoring")(serve_scoring)
    # research datasets and retention (issue 20): dataset build|verify|rebuild, retention enforce
    from clinflow.consent.retention_commands import retention_app
    from clinflow.datasets.commands import dataset_app

    app.add_typer(dataset_app, name="dataset")
    app.add_typer(retention_app, name="retention")
