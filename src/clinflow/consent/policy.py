"""The consent fallback policy (``policies/consent.yaml``), validated on load.

It answers one question: what happens when no active Consent of the patient applies to a
purpose of use? It also names the break-the-glass purposes, which the policy permits even over
a patient's deny and which are always audited.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import Field

from clinflow.config import policies_dir
from clinflow.policy_loader import PolicyModel, Shape, read_document

DEFAULT_POLICY_PATH = policies_dir() / "consent.yaml"
SHAPE = Shape(rule_maps=frozenset({"purposes"}))


class Effect(StrEnum):
    PERMIT = "permit"
    DENY = "deny"


class PurposeRule(PolicyModel):
    fallback: Effect
    break_glass: bool = False
    description: str = ""


class ConsentPolicy(PolicyModel):
    """Fallback decisions per purpose of use (v3 ActReason codes)."""

    version: int = Field(ge=1)
    default: Effect = Effect.DENY
    purposes: dict[str, PurposeRule]
    revoke_all_excludes: tuple[str, ...] = ()

    def fallback(self, purpose: str) -> Effect:
        rule = self.purposes.get(purpose)
        return rule.fallback if rule is not None else self.default

    def is_break_glass(self, purpose: str) -> bool:
        rule = self.purposes.get(purpose)
        return rule is not None and rule.break_glass and rule.fallback is Effect.PERMIT

    def revocable_purposes(self) -> tuple[str, ...]:
        """Purposes a revocation without ``--purpose`` covers."""
        return tuple(p for p in self.purposes if p not in self.revoke_all_excludes)


def load_policy(path: Path | None = None) -> ConsentPolicy:
    """Read and validate a consent policy; a bad file raises ``PolicyError`` (file:line: ...)."""
    document = read_document(path or DEFAULT_POLICY_PATH, SHAPE)
    policy = document.validate(ConsentPolicy)
    for index, purpose in enumerate(policy.revoke_all_excludes):
        if purpose not in policy.purposes:
            raise document.error(("revoke_all_excludes", index), f"unknown purpose {purpose!r}")
    return policy


@lru_cache(maxsize=1)
def default_policy() -> ConsentPolicy:
    return load_policy(DEFAULT_POLICY_PATH)
