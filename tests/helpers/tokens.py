"""API bearer tokens for tests: one token per role over a token store in a scratch folder.

Every clinflow HTTP app authenticates against the deployment's token store
(``clinflow.api.auth``); the scoring app also accepts the registered deployment token.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from clinflow.api.auth import Authenticator, Role, TokenStore, api_tokens_path
from clinflow.config import DataDir

DEPLOYMENT_TOKEN = "test-deployment-token"
OTHER_PATIENT = "PT-00000000000000ff"


@dataclass(frozen=True)
class Access:
    """An authenticator and one token per role: every ``Role`` by name, ``patient`` scoped
    to ``patient``, ``other_patient`` scoped to another one, ``revoked`` (an auditor's,
    revoked) and ``deployment`` (the registered service token)."""

    authenticator: Authenticator
    tokens: dict[str, str]
    patient: str

    def headers(self, who: str | None) -> dict[str, str]:
        return {} if who is None else {"Authorization": f"Bearer {self.tokens[who]}"}


def make_access(root: Path, patient: str) -> Access:
    """Tokens for every role in ``<root>/api_tokens.db`` (created if missing)."""
    store = TokenStore(api_tokens_path(DataDir.open(root)))
    tokens = {
        role.value: store.create(role)[1]
        for role in Role
        if role not in (Role.PATIENT, Role.DEPLOYMENT)
    }
    tokens["patient"] = store.create(Role.PATIENT, patient)[1]
    tokens["other_patient"] = store.create(Role.PATIENT, OTHER_PATIENT)[1]
    revoked_id, tokens["revoked"] = store.create(Role.AUDITOR)
    store.revoke(revoked_id)
    tokens["deployment"] = DEPLOYMENT_TOKEN
    return Access(Authenticator(store, deployment_token=DEPLOYMENT_TOKEN), tokens, patient)


@cache
def scratch_access(patient: str) -> Access:
    """``make_access`` in a scratch folder removed at exit (for app builders without tmp_path)."""
    root = Path(tempfile.mkdtemp(prefix="clinflow-tokens-"))
    atexit.register(shutil.rmtree, root, True)
    return make_access(root / "data", patient)
