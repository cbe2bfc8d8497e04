"""``clinflow replay compare A B``: two replay reports side by side, regressions flagged.

A is the baseline, B the candidate. Speed figures (throughput, latency percentiles per sink)
are flagged when B is worse than A by more than ``tolerance`` (a share: 0.10 = 10 %);
correctness figures (lost, duplicated, residual PHI, consent violations, revoked data left,
audit verification, balanced accounting) are flagged on any change for the worse, however
small. Used as a CI gate: the command exits 1 when anything is flagged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from clinflow.errors import ConfigError
from clinflow.runtime.replay_report import ReplayReport

REPORT_JSON = "report.json"


@dataclass(frozen=True, slots=True)
class Row:
    """One figure of both reports; ``regressed`` when B is worse beyond the tolerance."""

    figure: str
    a: float | None
    b: float | None
    better: str  # "higher" | "lower"
    regressed: bool

    @property
    def change(self) -> str:
        if self.a is None or self.b is None:
            return "-"
        if self.a == 0:
            return "=" if self.b == 0 else f"{self.b - self.a:+g}"
        return f"{(self.b - self.a) / abs(self.a):+.1%}"


def load_report(path: Path) -> ReplayReport:
    """A report.json, or a report folder holding one; a bad file is a ``ConfigError``."""
    file = path / REPORT_JSON if path.is_dir() else path
    try:
        return ReplayReport.model_validate_json(file.read_bytes())
    except FileNotFoundError as exc:
        raise ConfigError(f"{file}: no replay report there") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ConfigError(f"{file}: not a replay report ({where}: {first['msg']})") from exc


def compare(a: ReplayReport, b: ReplayReport, tolerance: float = 0.10) -> list[Row]:
    """Every comparable figure of ``a`` and ``b``, in reading order."""
    rows = [
        _speed("inputs/s achieved", a.run.achieved_per_s, b.run.achieved_per_s, "higher", tolerance)
    ]
    for sink in sorted(set(a.latency) | set(b.latency)):
        la, lb = a.latency.get(sink), b.latency.get(sink)
        for name in ("p50_ms", "p99_ms", "max_ms"):
            va = getattr(la, name) if la is not None else None
            vb = getattr(lb, name) if lb is not None else None
            rows.append(_speed(f"{sink} {name.removesuffix('_ms')} ms", va, vb, "lower", tolerance))
    ca, cb = a.correctness, b.correctness
    for name in (
        "lost",
        "duplicated_at_sinks",
        "duplicate_disclosures",
        "consent_violations",
        "revoked_data_remaining",
        "residual_phi",
    ):
        va, vb = getattr(ca, name), getattr(cb, name)
        rows.append(Row(name.replace("_", " "), va, vb, "lower", vb is not None and vb > (va or 0)))
    verified_a = _flag(ca.audit_verified)
    verified_b = _flag(cb.audit_verified)
    rows.append(
        Row(
            "audit verified",
            verified_a,
            verified_b,
            "higher",
            cb.audit_verified is False and ca.audit_verified is not False,
        )
    )
    balanced_a = float(all(x.balanced for x in ca.accounting.values()))
    balanced_b = float(all(x.balanced for x in cb.accounting.values()))
    rows.append(
        Row("accounting balanced", balanced_a, balanced_b, "higher", balanced_b < balanced_a)
    )
    rows.append(Row("all checks passed", float(a.ok), float(b.ok), "higher", a.ok and not b.ok))
    return rows


def _speed(figure: str, a: float | None, b: float | None, better: str, tolerance: float) -> Row:
    regressed = False
    if a is not None and b is not None and a > 0:
        change = (b - a) / a
        regressed = change > tolerance if better == "lower" else change < -tolerance
    elif a is not None and b is None:
        regressed = True  # the sink stopped receiving anything
    return Row(figure, a, b, better, regressed)


def _flag(value: bool | None) -> float | None:
    return None if value is None else float(value)
