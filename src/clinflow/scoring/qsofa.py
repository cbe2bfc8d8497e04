"""qSOFA (quick Sequential Organ Failure Assessment).

Source: Seymour CW et al. Assessment of Clinical Criteria for Sepsis. JAMA 2016;315(8):762-774,
and Singer M et al. The Third International Consensus Definitions for Sepsis and Septic Shock
(Sepsis-3). JAMA 2016;315(8):801-810. One point each for systolic BP ≤ 100 mmHg, respiratory
rate ≥ 22/min and altered mentation (GCS < 15); a score ≥ 2 is positive. Some secondary sources
write "< 100" and "> 22", which is wrong at the edges; tests pin the edges.

Altered mentation is taken from GCS when present, else from ACVPU (anything but Alert). With a
criterion missing or stale, the result is ``partial``: ``positive`` is ``True`` when the known
points already reach 2, ``False`` only when even the missing criteria could not reach 2, and
``None`` (indeterminate) otherwise. A mock for simulation, not a clinical tool.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from clinflow.scoring.news2 import DEFAULT_STALENESS, Staleness
from clinflow.scoring.vitals import Consciousness, Parameter, Reading, round_half_up


def sbp_criterion(systolic_mmhg: float) -> bool:
    """Systolic BP ≤ 100 mmHg (Seymour 2016)."""
    return round_half_up(systolic_mmhg) <= 100


def respiratory_criterion(rate_per_min: float) -> bool:
    """Respiratory rate ≥ 22/min (Seymour 2016)."""
    return round_half_up(rate_per_min) >= 22


def mentation_criterion(gcs: float | None, acvpu: Consciousness | None) -> bool | None:
    """Altered mentation: GCS < 15 if known, else ACVPU other than Alert; None if neither."""
    if gcs is not None:
        return round_half_up(gcs) < 15
    if acvpu is not None:
        return acvpu is not Consciousness.ALERT
    return None


@dataclass(slots=True)
class QsofaResult:
    score: int
    positive: bool | None
    partial: bool
    criteria: Mapping[str, bool | None]  # systolic_bp, respiratory_rate, mentation
    lineage: tuple[str, ...]


def score_qsofa(
    readings: Mapping[Parameter, Reading],
    as_of: datetime,
    *,
    staleness: Staleness = DEFAULT_STALENESS,
) -> QsofaResult:
    """qSOFA from the latest readings; stale readings count as missing."""
    limits = staleness.per_parameter
    default_limit = staleness.default_max_age_s
    fresh: dict[Parameter, Reading] = {}
    for parameter in _QSOFA_INPUTS:
        reading = readings.get(parameter)
        if reading is not None and (as_of - reading.time).total_seconds() <= limits.get(
            parameter, default_limit
        ):
            fresh[parameter] = reading
    sbp = fresh.get(Parameter.SYSTOLIC_BP)
    rr = fresh.get(Parameter.RESPIRATORY_RATE)
    gcs = fresh.get(Parameter.GCS)
    acvpu = fresh.get(Parameter.CONSCIOUSNESS)
    sbp_met = sbp_criterion(float(sbp.value)) if sbp is not None else None
    rr_met = respiratory_criterion(float(rr.value)) if rr is not None else None
    mentation = mentation_criterion(
        float(gcs.value) if gcs is not None else None,
        acvpu.value if acvpu is not None and isinstance(acvpu.value, Consciousness) else None,
    )
    criteria = {"systolic_bp": sbp_met, "respiratory_rate": rr_met, "mentation": mentation}
    score = (sbp_met is True) + (rr_met is True) + (mentation is True)
    unknown = (sbp_met is None) + (rr_met is None) + (mentation is None)
    positive: bool | None
    if score >= 2:
        positive = True
    elif score + unknown < 2:
        positive = False
    else:
        positive = None
    mentation_source = gcs if gcs is not None else acvpu
    lineage = tuple(
        dict.fromkeys(r.source_id for r in (sbp, rr, mentation_source) if r is not None)
    )
    return QsofaResult(score, positive, unknown > 0, criteria, lineage)


_QSOFA_INPUTS = (
    Parameter.SYSTOLIC_BP,
    Parameter.RESPIRATORY_RATE,
    Parameter.GCS,
    Parameter.CONSCIOUSNESS,
)
