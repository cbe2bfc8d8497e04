"""The revocation receipt: what was found, where, what was done, when.

A receipt holds pseudonyms, purposes, store names, counts, opaque locations and key ids only,
so it can be printed, returned by the API and kept forever without exposing PHI.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table


@dataclass(frozen=True, slots=True)
class FoundItem:
    sink: str
    purpose: str
    records: int
    patient: str = ""  # the pseudonym released under (a merged record's, ADR 0102)


@dataclass(frozen=True, slots=True)
class ActionTaken:
    target: str
    deleted: int
    derived_deleted: int = 0
    error: str | None = None
    details: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DestroyedKey:
    key_id: str
    scope: str


@dataclass(frozen=True, slots=True)
class Receipt:
    receipt_id: str
    patient: str
    revocation_id: str
    purposes: tuple[str, ...]
    retroactive: bool
    effective_at: str
    requested_at: str
    # set when the receipt is stored, once the work is done (RevocationService._store_receipt)
    completed_at: str = ""
    registry_version: int = 0
    already_revoked: bool = False
    found: tuple[FoundItem, ...] = ()
    actions: tuple[ActionTaken, ...] = ()
    keys_destroyed: tuple[DestroyedKey, ...] = ()
    audit_entries: tuple[int, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)
    # pseudonyms merged into ``patient`` (HL7 v2 A40) whose history this receipt covers too
    merged_patients: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        """True when every retraction target succeeded."""
        return all(action.error is None for action in self.actions)

    @property
    def records_found(self) -> int:
        return sum(item.records for item in self.found)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["complete"] = self.complete
        data["records_found"] = self.records_found
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Receipt:
        return cls(
            receipt_id=data["receipt_id"],
            patient=data["patient"],
            revocation_id=data["revocation_id"],
            purposes=tuple(data["purposes"]),
            retroactive=bool(data["retroactive"]),
            effective_at=data["effective_at"],
            requested_at=data["requested_at"],
            completed_at=data["completed_at"],
            registry_version=int(data["registry_version"]),
            already_revoked=bool(data["already_revoked"]),
            found=tuple(FoundItem(**item) for item in data.get("found", ())),
            actions=tuple(
                ActionTaken(**{**item, "details": tuple(item.get("details", ()))})
                for item in data.get("actions", ())
            ),
            keys_destroyed=tuple(DestroyedKey(**item) for item in data.get("keys_destroyed", ())),
            audit_entries=tuple(data.get("audit_entries", ())),
            notes=tuple(data.get("notes", ())),
            merged_patients=tuple(data.get("merged_patients", ())),
        )

    def render(self, console: Console) -> None:
        """Human-readable receipt (rich)."""
        state = (
            "complete"
            if self.complete
            else f"INCOMPLETE (finish later: clinflow consent revoke --retry {self.receipt_id})"
        )
        console.print(f"[bold]Revocation receipt[/bold] {self.receipt_id} — {state}")
        console.print(
            f"patient {self.patient}; purposes {', '.join(self.purposes) or '-'}; "
            f"{'retroactive' if self.retroactive else 'from ' + self.effective_at}; "
            f"revocation {self.revocation_id}"
            + (" (already in force)" if self.already_revoked else "")
        )
        console.print(f"requested {self.requested_at}, completed {self.completed_at}")
        if self.merged_patients:
            console.print(f"covers merged patient(s) {', '.join(self.merged_patients)}")
        found = Table("patient", "sink", "purpose", "records found", title="Found through lineage")
        for item in self.found:
            found.add_row(item.patient, item.sink, item.purpose, str(item.records))
        console.print(found)
        done = Table("target", "deleted", "derived deleted", "status", title="Retractions")
        for action in self.actions:
            done.add_row(
                action.target,
                str(action.deleted),
                str(action.derived_deleted),
                "ok" if action.error is None else f"failed: {action.error}",
            )
        console.print(done)
        keys = Table("key id", "scope", title="Data keys destroyed (crypto-shredded)")
        for key in self.keys_destroyed:
            keys.add_row(key.key_id, key.scope)
        console.print(keys)
        for note in self.notes:
            console.print(f"note: {note}")
        console.print(f"audit entries: {', '.join(map(str, self.audit_entries)) or '-'}")
