"""Physiologically plausible vital-sign trajectories, some deteriorating from a known onset.

Each parameter is a mean-reverting random walk around the patient's baseline. For a
deteriorating patient the target drifts after the onset towards a sepsis picture (tachycardia,
tachypnoea, hypotension, fever, new confusion) or respiratory failure (tachypnoea, falling SpO2,
rising supplemental oxygen), reaching the full drift over ``RAMP_HOURS``. Values are rounded
to what a monitor or chart shows.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

RAMP_HOURS = 8.0
ACVPU_LEVELS = ("A", "C", "V", "P", "U")


@dataclass(frozen=True, slots=True)
class VitalSet:
    """One charted set of observations at ``at``."""

    at: datetime
    heart_rate: int  # /min
    respiratory_rate: int  # /min
    spo2: int  # %
    systolic: int  # mm[Hg]
    diastolic: int  # mm[Hg]
    temperature: float  # Cel
    acvpu: str  # A, C, V, P or U
    o2_flow: float  # L/min; 0 means breathing air


# (hr, rr, spo2, sbp, dbp, temp, o2 flow) drift at full deterioration
_DRIFT = {
    "sepsis": (38.0, 9.0, -4.0, -38.0, -22.0, 1.9, 2.0),
    "respiratory_failure": (26.0, 15.0, -11.0, -5.0, -2.0, 0.4, 6.0),
}
_LIMITS = ((25, 220), (4, 60), (60, 100), (50, 240), (25, 140), (32.0, 42.5), (0.0, 15.0))
_NOISE = (2.2, 0.9, 0.6, 3.5, 2.5, 0.06, 0.0)
_PULL = 0.25  # mean reversion per step
_NOISE_BLOCK = 4  # charting times of noise drawn at once


def trajectory(
    rng: random.Random,
    start: datetime,
    points: int,
    interval_minutes: int,
    onset: datetime | None,
    pattern: str | None,
) -> Iterator[VitalSet]:
    """Yield ``points`` vital sets ``interval_minutes`` apart from ``start``.

    ``rng`` is drawn from only here, before the first set: the returned iterator keeps a
    numpy generator of its own (no reference to ``rng``), so a timed stream can hold one per
    admitted patient for the whole stay at a cost of about 2 KB each.
    """
    baseline = [
        rng.gauss(78, 9),
        rng.gauss(15.5, 1.6),
        min(99.5, rng.gauss(97, 1.2)),
        rng.gauss(126, 13),
        rng.gauss(77, 7),
        rng.gauss(36.8, 0.25),
        2.0 if rng.random() < 0.1 else 0.0,
    ]
    # Standard-normal noise from numpy (PCG64 seeded from the patient's RNG): the per-value
    # Python gauss() calls were a third of the generator's time.
    noise = np.random.default_rng(rng.getrandbits(64))

    def walk() -> Iterator[VitalSet]:  # closes over noise and baseline, never over rng
        state = list(baseline)
        drift = _DRIFT.get(pattern or "", (0.0,) * 7)
        step = timedelta(minutes=interval_minutes)
        rows = np.empty((0, 6))
        for point in range(points):
            if point % _NOISE_BLOCK == 0:  # noise in blocks: fast like one big draw, small memory
                rows = noise.standard_normal((min(_NOISE_BLOCK, points - point), 6)) * _NOISE[:6]
            row: list[float] = rows[point % _NOISE_BLOCK].tolist()
            at = start + step * point
            progress = 0.0
            if onset is not None and at >= onset:
                progress = min(1.0, (at - onset).total_seconds() / 3600.0 / RAMP_HOURS)
            for k in range(6):
                target = baseline[k] + drift[k] * progress
                value = state[k] + _PULL * (target - state[k]) + row[k]
                low, high = _LIMITS[k]
                state[k] = low if value < low else high if value > high else value
            # Supplemental oxygen is titrated in steps, never randomly walked.
            state[6] = round(baseline[6] + drift[6] * progress)
            acvpu = "A"
            if pattern == "sepsis" and progress > 0.6:
                acvpu = "C" if progress < 0.95 else "V"
            elif pattern == "respiratory_failure" and progress >= 1.0 and noise.random() < 0.3:
                acvpu = "C"
            systolic = round(state[3])
            diastolic = min(round(state[4]), systolic - 15)
            yield VitalSet(
                at=at,
                heart_rate=round(state[0]),
                respiratory_rate=round(state[1]),
                spo2=min(100, round(state[2])),
                systolic=systolic,
                diastolic=diastolic,
                temperature=round(state[5], 1),
                acvpu=acvpu,
                o2_flow=float(state[6]),
            )

    return walk()

