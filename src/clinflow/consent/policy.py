"""The consent fallback policy (``policies/consent.yaml``), validated on load.

It answers one question: what happens when no active Consent of the patient applies to a
purpose of use? It also names the break-the-glass purposes, which the policy permits even over
a patient's deny and which are always audited.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from clinflow.config import policies_dir
from clinflow.errors import PolicyError

DEFAULT_POLICY_PATH = policies_dir() / "consent.yaml"


class Effect(StrEnum):
    PERMIT = "permit"
    DENY = "deny"


class PurposeRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    fallback: Effect
    break_glass: bool = False
    description: str = ""


class ConsentPolicy(BaseModel):
    """Fallback decisions per purpose of use (v3 ActReason codes)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

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
    """Read and validate a consent policy; a bad file raises PolicyError naming file and field."""
    path = path or DEFAULT_POLICY_PATH
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read consent policy ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise PolicyError(f"{path}: not valid YAML") from exc
    if not isinstance(raw, dict):
        raise PolicyError(f"{path}: expected a mapping at the top level")
    try:
        policy = ConsentPolicy.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise PolicyError(f"{path}: field '{field}': {first['msg']}") from exc
    unknown = [p for p in policy.revoke_all_excludes if p not in policy.purposes]
    if unknown:
        raise PolicyError(
            f"{path}: field 'revoke_all_excludes': unknown purpose(s) {', '.join(unknown)}"
        )
    return policy


@lru_cache(maxsize=1)
def default_policy() -> ConsentPolicy:
    return load_policy(DEFAULT_POLICY_PATH)
