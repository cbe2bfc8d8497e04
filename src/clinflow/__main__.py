"""``python -m clinflow`` runs the CLI."""

from clinflow.cli import main

if __name__ == "__main__":  # not again in a spawned worker process (runtime.offload)
    main()
