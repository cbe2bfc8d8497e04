"""The text de-identifier most tests of this folder use: the default policy with the built-in
replacement (no presidio-anonymizer), under a fixed test key. One per module."""

from __future__ import annotations

import pytest

from clinflow.deid.pseudonym import Pseudonymizer
from clinflow.deid.text.engine import TextDeidentifier, load_text_policy

KEY = bytes(range(32))


@pytest.fixture(scope="module")
def deid() -> TextDeidentifier:
    policy = load_text_policy().model_copy(update={"anonymizer": "builtin"})
    return TextDeidentifier(Pseudonymizer(KEY), policy)
