"""``clinflow deid ...`` command group; each format adds its command in its own module."""

from __future__ import annotations

import typer

deid_app = typer.Typer(help="De-identify DICOM or FHIR inputs (file or folder, recursively).")
