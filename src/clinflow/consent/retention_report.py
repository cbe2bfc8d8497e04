"""The report of ``clinflow retention enforce``: per store what was held, removed and kept,
every removal, the receipts, and whether it all verified."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from clinflow.jsonable import fields_json


@dataclass
class StoreReport:
    store: str
    basis: str
    retention_days: int
    enforced: bool
    held_before: int = 0
    removed: int = 0
    held_after: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        """Every field, in declaration order; reasons sorted so reports compare as text."""
        return fields_json(self, by_reason=dict(sorted(self.by_reason.items())))


@dataclass
class RetentionReport:
    as_of: str
    stores: list[StoreReport] = field(default_factory=list)
    # research: output id, patient, reason; quarantine and scoring: patient, count (ids)
    removed: list[dict[str, Any]] = field(default_factory=list)
    receipts: list[dict[str, Any]] = field(default_factory=list)
    keys_destroyed: int = 0
    remaining_without_basis: int = 0
    complete: bool = True
    audit_log_verified: bool | None = None  # set by the command after the log is closed

    def note_store(self, name: str, note: str) -> None:
        """Add a note to a store's part of the report."""
        for store in self.stores:
            if store.store == name:
                store.note = "; ".join(part for part in (store.note, note) if part)

    @property
    def removed_total(self) -> int:
        return sum(store.removed for store in self.stores)

    @property
    def verified(self) -> bool:
        """Every retraction succeeded, nothing without a basis remains, and the audit log
        verifies (when it was checked)."""
        return (
            self.complete
            and self.remaining_without_basis == 0
            and self.audit_log_verified is not False
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of,
            "verified": self.verified,
            "complete": self.complete,
            "audit_log_verified": self.audit_log_verified,
            "removed_total": self.removed_total,
            "remaining_without_basis": self.remaining_without_basis,
            "keys_destroyed": self.keys_destroyed,
            "stores": [store.to_json() for store in self.stores],
            "removed": self.removed,
            "receipts": self.receipts,
        }
