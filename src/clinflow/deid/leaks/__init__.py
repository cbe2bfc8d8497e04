"""Residual-PHI scanning against the generator's ground-truth manifest, and its CLI."""
