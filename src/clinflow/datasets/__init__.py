"""Research datasets: built from the research store under data use agreements, with a
manifest (lineage, consent, agreement, hashes), a dataset card, verification against the
audit log, and reproducible rebuilds that report what changed (docs/adr/0094)."""
