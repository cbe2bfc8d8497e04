"""Key material: project HMAC key, master key-encryption key, audit signing key."""

from __future__ import annotations

from clinflow.crypto.keys import KeyRing

__all__ = ["KeyRing"]
