"""The clinflow exception hierarchy.

    ClinflowError                 base: anything clinflow raises on purpose
    ├── ConfigError               bad settings, scenario or command-line values
    │   └── PolicyError           a policy file fails validation: file:line: rule: field: why
    ├── InputRejected             one input cannot be processed (goes to quarantine)
    ├── ConsentDenied             consent forbids this use (dropped and audited, not quarantined)
    ├── KeyError_                 key material missing, malformed or destroyed
    └── AuditIntegrityError       the audit log or a checkpoint fails verification

Third-party errors (pydicom, fhir.resources, sqlite3, psycopg, ...) are wrapped where they
enter clinflow with ``raise InputRejected(...) from exc`` so callers handle one hierarchy.
Messages must never contain PHI: name the file, field and problem, not the value.
"""

from __future__ import annotations


class ClinflowError(Exception):
    """Base class of every error clinflow raises deliberately."""


class ConfigError(ClinflowError):
    """A setting, scenario file or command-line value is invalid."""


class PolicyError(ConfigError):
    """A policy or scenario file failed to load: ``file:line: rule: field: message``.

    ``rule`` is the id (or mapping key) of the rule the problem is in and ``field`` the path
    inside it (``method``, ``fields[3]``); either is ``-`` where none applies. ``line`` is
    1-based, 0 when no line applies (the file cannot be read). Raised by
    :mod:`clinflow.policy_loader`, which every policy loader goes through.
    """

    def __init__(self, file: str, line: int, rule: str, field: str, message: str) -> None:
        self.file = file
        self.line = line
        self.rule = rule
        self.field = field
        self.detail = message
        super().__init__(f"{file}:{line}: {rule}: {field}: {message}")

    def __reduce__(self) -> tuple[type[PolicyError], tuple[str, int, str, str, str]]:
        return type(self), (self.file, self.line, self.rule, self.field, self.detail)


class InputRejected(ClinflowError):
    """One input could not be processed; it belongs in quarantine.

    ``reason`` says what is wrong, ``location`` where (file, resource, tag or field path).
    """

    def __init__(self, reason: str, location: str = "") -> None:
        self.reason = reason
        self.location = location
        super().__init__(f"{location}: {reason}" if location else reason)


class ConsentDenied(ClinflowError):
    """Consent in force does not permit this use; the message carries the decision reason."""


class KeyError_(ClinflowError):  # noqa: N801 - avoid shadowing the builtin KeyError
    """Key material is missing, malformed or has been destroyed (crypto-shredded)."""


class AuditIntegrityError(ClinflowError):
    """The audit log, a proof or a checkpoint failed verification."""


class AuditUnavailable(ClinflowError):
    """The audit log could not make entries durable (full disk, lost database connection):
    nothing in the failed commit was acknowledged; services answer 503 and retry later."""
