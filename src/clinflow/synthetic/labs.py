"""Laboratory results over a stay: plausible values, worsening with a deterioration.

Each patient has a baseline per analyte (lactate mmol/L, creatinine and total bilirubin
mg/dL, platelets and leukocytes 10^3/uL, within normal ranges). Blood is drawn 20-75 min
after admission, then every ``labs_interval_hours`` (± 30 min) until discharge, plus one
draw 1-3 h after a deterioration's onset (the sepsis screen a ward would send). After the
onset the values drift towards the pattern's picture, reaching it over ``RAMP_HOURS``:
sepsis raises lactate above 4 mmol/L, doubles creatinine, lowers platelets below 100 and
raises bilirubin to ~2.4 mg/dL (SOFA renal, coagulation and liver points: ``clinflow.scoring
.sofa``); respiratory failure raises lactate above 2 and leukocytes a little. Values are
rounded as a lab reports them. One RNG per patient (the ``labs`` phase's): other phases draw
nothing different when labs are on.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

RAMP_HOURS = 12.0
ANALYTES = ("lactate", "creatinine", "wbc", "platelets", "bilirubin")

# analyte -> (baseline mean, sd, low, high) of a patient's normal value
_BASELINE = {
    "lactate": (1.1, 0.3, 0.5, 1.8),
    "creatinine": (0.9, 0.18, 0.45, 1.15),
    "wbc": (7.5, 1.8, 4.2, 11.0),
    "platelets": (250.0, 55.0, 155.0, 420.0),
    "bilirubin": (0.6, 0.2, 0.2, 1.1),
}
# pattern -> analyte -> (kind, amount) at full deterioration: "add" or "times"
_DRIFT: dict[str, dict[str, tuple[str, float]]] = {
    "sepsis": {
        "lactate": ("add", 3.4),
        "creatinine": ("times", 2.6),
        "wbc": ("add", 9.0),
        "platelets": ("times", 0.35),
        "bilirubin": ("add", 1.8),
    },
    "respiratory_failure": {
        "lactate": ("add", 1.6),
        "creatinine": ("times", 1.3),
        "wbc": ("add", 4.0),
        "platelets": ("times", 0.9),
        "bilirubin": ("add", 0.2),
    },
}
# analyte -> (relative noise sd, decimals reported)
_REPORTED = {
    "lactate": (0.08, 1),
    "creatinine": (0.05, 2),
    "wbc": (0.07, 1),
    "platelets": (0.06, 0),
    "bilirubin": (0.08, 1),
}


@dataclass(frozen=True, slots=True)
class LabSet:
    """One blood draw's results at ``at`` (analyte -> value in its canonical unit)."""

    at: datetime
    number: int
    values: dict[str, float]


def draw_times(
    rng: random.Random,
    admitted: datetime,
    discharged: datetime,
    interval_hours: float,
    onset: datetime | None,
) -> list[datetime]:
    """When blood is drawn: soon after admission, every interval, and after an onset."""
    first = admitted + timedelta(minutes=rng.randint(20, 75))
    times = []
    at = first
    while at < discharged:
        times.append(at)
        at = first + timedelta(hours=interval_hours * len(times), minutes=rng.randint(-30, 30))
    if onset is not None:
        screen = onset + timedelta(minutes=rng.randint(60, 180))
        if screen < discharged and all(abs((screen - t).total_seconds()) > 3600 for t in times):
            times.append(screen)
    return sorted(times)


def lab_sets(
    rng: random.Random,
    admitted: datetime,
    discharged: datetime,
    interval_hours: float,
    onset: datetime | None,
    pattern: str | None,
) -> Iterator[LabSet]:
    """The stay's lab results in time order (everything drawn from ``rng`` up front)."""
    baseline = {
        name: min(high, max(low, rng.gauss(mean, sd)))
        for name, (mean, sd, low, high) in _BASELINE.items()
    }
    times = draw_times(rng, admitted, discharged, interval_hours, onset)
    noise = [{name: rng.gauss(0.0, 1.0) for name in ANALYTES} for _ in times]
    drift = _DRIFT.get(pattern or "", {})
    for number, (at, row) in enumerate(zip(times, noise, strict=True)):
        progress = 0.0
        if onset is not None and at >= onset:
            progress = min(1.0, (at - onset).total_seconds() / 3600.0 / RAMP_HOURS)
        values = {}
        for name in ANALYTES:
            value = baseline[name]
            kind, amount = drift.get(name, ("add", 0.0))
            value = value * (1 + (amount - 1) * progress) if kind == "times" else (
                value + amount * progress
            )
            sd, decimals = _REPORTED[name]
            value *= 1 + sd * row[name]
            floor = 10 ** -decimals if decimals else 1.0
            values[name] = max(floor, round(value, decimals))
        yield LabSet(at, number, values)
