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
    # synthetic generator: generate, demo  -> clinflow.synthetic.commands
    # audit log: audit verify, serve api   -> clinflow.audit.commands
    # de-identification: deid dicom|fhir, leaks -> clinflow.deid.commands
    # consent: consent revoke|status       -> clinflow.consent.commands
    from clinflow.consent.commands import consent_app

    app.add_typer(consent_app, name="consent")
    # scoring: serve scoring               -> clinflow.scoring.commands
