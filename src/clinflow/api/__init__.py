"""The audit-query API (FastAPI): search, proofs, checkpoints, accounting of disclosures."""
