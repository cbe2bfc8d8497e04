"""Offline verification of an audit log: entries, tree, signed checkpoints, trusted checkpoint.

``verify_log`` re-reads every stored entry, recomputes its RFC 9162 leaf hash and the tree,
checks each signed checkpoint (signature by a trusted key, root equal to the recomputed tree at
its size, consistency with the previous checkpoint, size within the entries present) and, if
given, consistency from the checkpoint the verifier last trusted. Every failure names the entry
index or checkpoint sequence number it concerns. The side index must match the entries without
a gap; entries past its last row are its tail, written in a later batch (ADR 0110), and only
counted (``unindexed``): searches derive their fields from the entries themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from clinflow.audit.canonical import parse_canonical
from clinflow.audit.checkpoint import Checkpoint, NoteSigner, NoteVerifier
from clinflow.audit.merkle import MerkleTree, leaf_hash, verify_consistency
from clinflow.audit.search_fields import search_row
from clinflow.audit.store import AuditStore
from clinflow.config import DataDir
from clinflow.crypto.keys import KeyRing
from clinflow.errors import AuditIntegrityError

MAX_REPORTED = 100
_NO_MORE_ROWS = 2**63  # sentinel index past the side index's last row
TRUSTED_VKEYS_FILE = "audit-trusted.vkeys"


def trusted_verifiers(data_dir: DataDir, origin: str, vkeys: list[str]) -> list[NoteVerifier]:
    """Verifier keys: those given, else the deployment's key plus any rotated-out keys listed
    one per line in ``<data-dir>/keys/audit-trusted.vkeys``."""
    if vkeys:
        return [NoteVerifier(v) for v in vkeys]
    key = KeyRing(data_dir.keys, create_missing=False).audit_signing_key()
    verifiers = [NoteVerifier(NoteSigner(origin, key).vkey())]
    extra = data_dir.keys / TRUSTED_VKEYS_FILE
    if extra.exists():
        for line in extra.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                verifiers.append(NoteVerifier(line))
    return verifiers


@dataclass(frozen=True, slots=True)
class Failure:
    """One verification failure: ``where`` is e.g. ``entry 41`` or ``checkpoint 3``."""

    where: str
    problem: str

    def __str__(self) -> str:
        return f"{self.where}: {self.problem}"


@dataclass
class VerifyReport:
    entries: int = 0
    checkpoints: int = 0
    checkpointed_size: int = 0
    root: bytes = b""
    failures: list[Failure] = field(default_factory=list)
    truncated_failures: int = 0
    unindexed: int = 0  # entries past the side index's last row (its tail, ADR 0110)

    @property
    def ok(self) -> bool:
        return not self.failures

    def fail(self, where: str, problem: str) -> None:
        if len(self.failures) < MAX_REPORTED:
            self.failures.append(Failure(where, problem))
        else:
            self.truncated_failures += 1


def _check_signed(
    note: str, verifiers: Sequence[NoteVerifier]
) -> tuple[Checkpoint | None, str | None]:
    problems = []
    for verifier in verifiers:
        try:
            return verifier.verify(note), None
        except AuditIntegrityError as exc:
            problems.append(str(exc))
    return None, "; ".join(problems) or "no trusted verifier key"


def verify_log(
    store: AuditStore,
    verifiers: Sequence[NoteVerifier],
    *,
    origin: str | None = None,
    trusted: str | None = None,
    check_index: bool = True,
) -> VerifyReport:
    """Verify everything stored; ``trusted`` is a signed checkpoint note the verifier kept.

    With ``check_index`` the side index that searches and the accounting of disclosures use
    is compared with the entries, so an altered index row cannot hide an entry."""
    report = VerifyReport()
    tree = MerkleTree()
    expected = 0
    index_rows = store.iter_index() if check_index else None
    pending_row: tuple[int, tuple[str | None, ...]] | None = None
    leaves: list[bytes] = []
    for index, stored_leaf, entry in store.iter_entries():
        if index != expected:
            last = index - 1
            gap = f"entries {expected}..{last}" if last > expected else f"entry {expected}"
            report.fail(gap, "missing (deleted from the log)")
            expected = index
        actual = leaf_hash(entry)
        parsed, canonical = parse_canonical(entry)
        if actual != stored_leaf:
            report.fail(f"entry {index}", "content does not match its stored leaf hash (altered)")
        elif not canonical:
            report.fail(f"entry {index}", "not canonical JSON")
        if index_rows is not None:
            while pending_row is None or pending_row[0] < index:
                pending_row = next(index_rows, (_NO_MORE_ROWS, ()))
            if pending_row[0] == _NO_MORE_ROWS:
                report.unindexed += 1
            elif pending_row[0] != index:
                report.fail(f"index row {index}", "missing from the search index")
            elif parsed is not None and search_row(parsed) != pending_row[1]:
                report.fail(
                    f"index row {index}", "search fields differ from the entry (index altered)"
                )
        leaves.append(actual)
        if len(leaves) >= 8192:
            tree.extend(leaves)
            leaves.clear()
        expected += 1
    tree.extend(leaves)
    present = tree.size
    report.entries = present
    report.root = tree.root()
    previous: tuple[int, Checkpoint] | None = None
    last_good = 0  # size of the last checkpoint whose root matched the entries
    for stored in store.checkpoints():
        report.checkpoints += 1
        where = f"checkpoint {stored.seq}"
        checkpoint, problem = _check_signed(stored.note, verifiers)
        if checkpoint is None:
            report.fail(where, f"signature invalid ({problem})")
            continue
        if origin is not None and checkpoint.origin != origin:
            report.fail(where, f"origin {checkpoint.origin!r} is not this log's {origin!r}")
        if checkpoint.size != stored.size or checkpoint.root != stored.root:
            report.fail(where, "stored size/root columns differ from the signed note")
        if previous is not None and previous[1].size > checkpoint.size:
            report.fail(where, f"size {checkpoint.size} smaller than checkpoint {previous[0]}")
        if checkpoint.size > present:
            report.fail(
                where,
                f"signed size {checkpoint.size} exceeds the {present} entries present "
                "(log truncated)",
            )
        elif tree.root(checkpoint.size) != checkpoint.root:
            report.fail(
                where,
                f"signed root does not match the entries (size {checkpoint.size}): an entry in "
                f"{last_good}..{checkpoint.size - 1} was altered, reordered or replaced",
            )
        else:
            if previous is not None and previous[1].size <= checkpoint.size:
                prev_seq, prev = previous
                proof = tree.consistency_proof(prev.size, checkpoint.size)
                if not verify_consistency(
                    prev.size, checkpoint.size, prev.root, checkpoint.root, proof
                ):
                    report.fail(where, f"not consistent with checkpoint {prev_seq}")
            last_good = max(last_good, checkpoint.size)
        previous = (stored.seq, checkpoint)
        report.checkpointed_size = max(report.checkpointed_size, checkpoint.size)
    if trusted is not None:
        checkpoint, problem = _check_signed(trusted, verifiers)
        if checkpoint is None:
            report.fail("trusted checkpoint", f"signature invalid ({problem})")
        elif checkpoint.size > present:
            report.fail(
                "trusted checkpoint",
                f"size {checkpoint.size} exceeds the {present} entries present (log truncated)",
            )
        elif not verify_consistency(
            checkpoint.size,
            present,
            checkpoint.root,
            report.root,
            tree.consistency_proof(checkpoint.size, present),
        ):
            report.fail("trusted checkpoint", "current log is not consistent with it (rewritten)")
    return report
