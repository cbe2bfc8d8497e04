"""``python -m clinflow`` runs the CLI."""

from clinflow.cli import main

main()
