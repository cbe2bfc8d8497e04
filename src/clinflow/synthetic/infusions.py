"""Vasopressor infusions over a stay: a septic patient's norepinephrine, titrated by a pump.

A patient whose deterioration pattern is sepsis starts norepinephrine 2-4 h after the onset
(after the lab screen and fluids, as Surviving Sepsis guidance orders it) at 0.05 mcg/kg/min;
the pump records the rate every ``vasopressor_record_minutes`` while it runs, titrated up by
0.02-0.06 towards a patient's peak of 0.12-0.35 mcg/kg/min over ``RAMP_HOURS``, so a stream
shows the SOFA cardiovascular component (``clinflow.scoring.sofa``) go from 3 to 4 points.
Rates are rounded to 0.01 as a pump displays them. One RNG per patient (the ``infusions``
phase's): other phases draw nothing different when infusions are on.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

START_RATE = 0.05  # mcg/kg/min
RAMP_HOURS = 6.0


@dataclass(frozen=True, slots=True)
class RateRecord:
    """One pump record: the norepinephrine rate (mcg/kg/min) running at ``at``."""

    at: datetime
    number: int
    rate: float
    last: bool  # the last record of the stay (the administration completed)


def rate_records(
    rng: random.Random,
    discharged: datetime,
    record_minutes: float,
    onset: datetime | None,
    pattern: str | None,
) -> Iterator[RateRecord]:
    """The stay's pump records in time order (nothing unless the pattern is sepsis)."""
    if pattern != "sepsis" or onset is None or record_minutes <= 0:
        return
    start = onset + timedelta(minutes=rng.randint(120, 240))
    peak = round(rng.uniform(0.12, 0.35), 2)
    times: list[datetime] = []
    at = start
    while at < discharged:
        times.append(at)
        at = start + timedelta(minutes=record_minutes * len(times))
    steps = [rng.uniform(0.02, 0.06) for _ in times]
    rate = START_RATE
    for number, (at, step) in enumerate(zip(times, steps, strict=True)):
        if number:
            ramp = min(1.0, (at - start).total_seconds() / 3600.0 / RAMP_HOURS)
            rate = min(peak, max(rate, START_RATE + (peak - START_RATE) * ramp), rate + step)
        yield RateRecord(at, number, round(rate, 2), number == len(times) - 1)
