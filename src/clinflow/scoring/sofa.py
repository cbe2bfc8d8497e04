"""SOFA-style laboratory components and a lactate flag, beside NEWS2 and qSOFA.

Source: Vincent JL et al. The SOFA (Sepsis-related Organ Failure Assessment) score to
describe organ dysfunction/failure. Intensive Care Med 1996;22:707-710, Table 1:

- renal, creatinine mg/dL: < 1.2 → 0; 1.2–1.9 → 1; 2.0–3.4 → 2; 3.5–4.9 → 3; ≥ 5.0 → 4
  (the urine-output criteria are not scored: there is no urine-output feed);
- coagulation, platelets 10^3/µL: ≥ 150 → 0; < 150 → 1; < 100 → 2; < 50 → 3; < 20 → 4;
- liver, total bilirubin mg/dL: < 1.2 → 0; 1.2–1.9 → 1; 2.0–5.9 → 2; 6.0–11.9 → 3; ≥ 12 → 4.

SOFA scores the worst value of a day: each component reads the worst reading of its analyte
in the ``WINDOW_S`` (24 h) before the score; a value between two rows of the table (1.95)
scores the row whose lower bound it reaches. The respiratory and CNS components need inputs
clinflow does not stream (PaO2/FiO2), so the subtotal covers the three lab components only
and says which are missing.

Cardiovascular (same table; doses in mcg/kg/min, vasoactive agents given for at least 1 h in
the original, here any dose rate recorded in the window): MAP < 70 mmHg → 1; dopamine ≤ 5 or
dobutamine (any dose) → 2; dopamine > 5 or epinephrine ≤ 0.1 or norepinephrine ≤ 0.1 → 3;
dopamine > 15 or epinephrine > 0.1 or norepinephrine > 0.1 → 4. The worst of the 24 h: the
highest recorded rate of each agent (a rate of 0 is an infusion stopped, not a dose) and the
lowest MAP, (SBP + 2 DBP) / 3 of one BP panel (no diastolic, no MAP). It is reported beside
the lab components (``cardiovascular``, ``subtotal_with_cardiovascular``) so the lab
``subtotal`` and ``missing`` keep their meaning; it is computed only when lab results or
infusions are held (a vital-sign-only stream keeps its outputs).

Lactate: the latest reading in the window, ``elevated`` above 2 mmol/L (Sepsis-3 septic shock
criterion, Singer M et al., JAMA 2016;315(8):801-810) and ``severe`` at 4 mmol/L or more
(Surviving Sepsis Campaign hypoperfusion threshold). Leukocytes: the latest reading,
``abnormal`` above 12 or below 4 x 10^3/µL (SIRS criterion, Bone RC et al., Chest 1992).
A mock for simulation, not a clinical tool.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from clinflow.scoring.features import FeatureStore
from clinflow.scoring.vitals import (
    DOSE_RATE_UNIT,
    LAB_PARAMETERS,
    LAB_UNITS,
    VASOACTIVE_PARAMETERS,
    Parameter,
)

WINDOW_S = 86400.0
_EPSILON = 1e-9  # binary floats at a table edge (2.0 stored as 1.9999999999) score as written
LACTATE_ELEVATED_MMOL_L = 2.0  # > this: elevated (Sepsis-3)
LACTATE_SEVERE_MMOL_L = 4.0  # >= this: severe (hypoperfusion)
WBC_LOW, WBC_HIGH = 4.0, 12.0  # SIRS: < 4 or > 12 x 10^3/uL


def _at_least(value: float, bands: tuple[tuple[float, int], ...]) -> int:
    """Points of the highest band whose lower bound ``value`` reaches (bands descending)."""
    for lower, points in bands:
        if value + _EPSILON >= lower:
            return points
    return 0


def creatinine_points(mg_dl: float) -> int:
    """SOFA renal (creatinine mg/dL): <1.2 → 0; 1.2–1.9 → 1; 2.0–3.4 → 2; 3.5–4.9 → 3; ≥5 → 4."""
    return _at_least(mg_dl, ((5.0, 4), (3.5, 3), (2.0, 2), (1.2, 1)))


def bilirubin_points(mg_dl: float) -> int:
    """SOFA liver (bilirubin mg/dL): <1.2 → 0; 1.2–1.9 → 1; 2.0–5.9 → 2; 6–11.9 → 3; ≥12 → 4."""
    return _at_least(mg_dl, ((12.0, 4), (6.0, 3), (2.0, 2), (1.2, 1)))


def platelet_points(k_per_ul: float) -> int:
    """SOFA coagulation (platelets 10^3/uL): ≥150 → 0; <150 → 1; <100 → 2; <50 → 3; <20 → 4."""
    for below, points in ((20.0, 4), (50.0, 3), (100.0, 2), (150.0, 1)):
        if k_per_ul < below - _EPSILON:
            return points
    return 0


MAP_LOW_MMHG = 70.0  # MAP < this: 1 point
MAP_UNIT = "mm[Hg]"


def cardiovascular_points(parameter: Parameter, value: float) -> int:
    """SOFA cardiovascular points of one input: a MAP (mmHg) or a vasoactive dose rate
    (mcg/kg/min; 0 means no infusion and scores 0)."""
    if parameter is Parameter.MEAN_ARTERIAL_PRESSURE:
        return 1 if value < MAP_LOW_MMHG - _EPSILON else 0
    if value <= _EPSILON:
        return 0
    if parameter is Parameter.DOBUTAMINE:
        return 2
    if parameter is Parameter.DOPAMINE:
        return 4 if value > 15.0 + _EPSILON else 3 if value > 5.0 + _EPSILON else 2
    # norepinephrine, epinephrine
    return 4 if value > 0.1 + _EPSILON else 3


# component -> (analyte, worst is the highest value?, points)
_COMPONENTS = (
    ("renal", Parameter.CREATININE, True, creatinine_points),
    ("coagulation", Parameter.PLATELETS, False, platelet_points),
    ("liver", Parameter.BILIRUBIN, True, bilirubin_points),
)


@dataclass(frozen=True, slots=True)
class LabComponent:
    """One SOFA component from the worst value of its analyte in the window (None: no value)."""

    system: str  # renal | coagulation | liver
    parameter: Parameter
    points: int | None
    value: float | None = None
    observed_at: datetime | None = None
    source_id: str | None = None

    @property
    def unit(self) -> str:
        return LAB_UNITS[self.parameter]


@dataclass(frozen=True, slots=True)
class Infusion:
    """The highest recorded rate of one vasoactive agent in the window."""

    parameter: Parameter
    rate: float  # mcg/kg/min
    observed_at: datetime
    source_id: str

    def to_json(self) -> dict[str, object]:
        return {
            "medication": self.parameter.value,
            "rate": self.rate,
            "unit": DOSE_RATE_UNIT,
            "observed_at": self.observed_at.isoformat(),
            "source_id": self.source_id,
        }


@dataclass(frozen=True, slots=True)
class CardiovascularComponent:
    """SOFA cardiovascular: the points of its worst input (None: neither a MAP nor an
    infusion is held) and which input decided them."""

    points: int | None
    basis: Parameter | None = None  # mean_arterial_pressure or the deciding agent
    value: float | None = None
    observed_at: datetime | None = None
    source_id: str | None = None
    infusions: tuple[Infusion, ...] = ()

    @property
    def unit(self) -> str | None:
        if self.basis is None:
            return None
        return MAP_UNIT if self.basis is Parameter.MEAN_ARTERIAL_PRESSURE else DOSE_RATE_UNIT

    def to_json(self) -> dict[str, object]:
        return {
            "system": "cardiovascular",
            "points": self.points,
            "basis": self.basis.value if self.basis is not None else None,
            "value": self.value,
            "unit": self.unit,
            "observed_at": self.observed_at.isoformat() if self.observed_at else None,
            "source_id": self.source_id,
            "infusions": [infusion.to_json() for infusion in self.infusions],
        }


NO_CARDIOVASCULAR = CardiovascularComponent(None)


@dataclass(frozen=True, slots=True)
class LabFlag:
    """The latest reading of an analyte in the window and what it flags."""

    parameter: Parameter
    value: float
    observed_at: datetime
    age_seconds: float
    source_id: str
    flags: tuple[str, ...]  # lactate: elevated, severe; wbc: high, low

    @property
    def unit(self) -> str:
        return LAB_UNITS[self.parameter]


@dataclass(frozen=True, slots=True)
class LabScores:
    """SOFA-style lab components, their subtotal, and the lactate and leukocyte flags."""

    components: tuple[LabComponent, ...]
    lactate: LabFlag | None
    wbc: LabFlag | None
    cardiovascular: CardiovascularComponent = NO_CARDIOVASCULAR

    @property
    def subtotal(self) -> int:
        """Points of the lab components with a value (0-12)."""
        return sum(c.points for c in self.components if c.points is not None)

    @property
    def subtotal_with_cardiovascular(self) -> int:
        """Lab subtotal plus the cardiovascular points when known (0-16)."""
        return self.subtotal + (self.cardiovascular.points or 0)

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(c.system for c in self.components if c.points is None)

    @property
    def lactate_elevated(self) -> bool | None:
        return None if self.lactate is None else "elevated" in self.lactate.flags

    @property
    def lineage(self) -> tuple[str, ...]:
        ids = [c.source_id for c in self.components if c.source_id is not None]
        ids += [flag.source_id for flag in (self.lactate, self.wbc) if flag is not None]
        # infusions only: a MAP's BP panel is already in the NEWS2 lineage
        ids += [infusion.source_id for infusion in self.cardiovascular.infusions]
        return tuple(dict.fromkeys(ids))

    @property
    def empty(self) -> bool:
        return (
            self.lactate is None
            and self.wbc is None
            and not self.cardiovascular.infusions
            and not any(c.points is not None for c in self.components)
        )

    def to_json(self) -> dict[str, object]:
        return {
            "subtotal": self.subtotal,
            "missing": list(self.missing),
            "components": [
                {
                    "system": c.system,
                    "parameter": c.parameter.value,
                    "points": c.points,
                    "value": c.value,
                    "unit": c.unit,
                    "observed_at": c.observed_at.isoformat() if c.observed_at else None,
                    "source_id": c.source_id,
                }
                for c in self.components
            ],
            "lactate": _flag_json(self.lactate),
            "wbc": _flag_json(self.wbc),
            "cardiovascular": self.cardiovascular.to_json(),
            "subtotal_with_cardiovascular": self.subtotal_with_cardiovascular,
        }


def _flag_json(flag: LabFlag | None) -> dict[str, object] | None:
    if flag is None:
        return None
    return {
        "value": flag.value,
        "unit": flag.unit,
        "observed_at": flag.observed_at.isoformat(),
        "age_seconds": flag.age_seconds,
        "flags": list(flag.flags),
        "source_id": flag.source_id,
    }


_LABS_OR_INFUSIONS = frozenset((*LAB_PARAMETERS, *VASOACTIVE_PARAMETERS))
NO_LABS = LabScores(
    tuple(LabComponent(system, parameter, None) for system, parameter, _, _ in _COMPONENTS),
    None,
    None,
)


def score_labs(features: FeatureStore, patient: str, as_of: datetime) -> LabScores:
    """The lab components and flags, and the cardiovascular component, of ``patient`` as of
    ``as_of``."""
    if not features.holds_any(patient, _LABS_OR_INFUSIONS):
        return NO_LABS  # the common case on a vital-sign stream: one set lookup
    until = as_of.timestamp()
    since = until - WINDOW_S
    tz = as_of.tzinfo
    components: list[LabComponent] = []
    for system, parameter, highest, points in _COMPONENTS:
        worst = features.worst(patient, parameter, since, until, highest=highest)
        if worst is None:
            components.append(LabComponent(system, parameter, None))
            continue
        t, value, source_id = worst
        components.append(
            LabComponent(
                system, parameter, points(value), value, datetime.fromtimestamp(t, tz), source_id
            )
        )
    lactate = _flag(features, patient, Parameter.LACTATE, as_of)
    wbc = _flag(features, patient, Parameter.WBC, as_of)
    cardiovascular = score_cardiovascular(features, patient, as_of)
    return LabScores(tuple(components), lactate, wbc, cardiovascular)


def _lowest_map(
    features: FeatureStore, patient: str, since: float, until: float
) -> tuple[float, float, str] | None:
    """The lowest MAP of the window, (SBP + 2 DBP) / 3 of each BP panel holding both."""
    diastolic = features.window(patient, Parameter.DIASTOLIC_BP, since, until)
    if not diastolic:
        return None
    systolic = {
        (t, source): value
        for t, value, source in features.window(patient, Parameter.SYSTOLIC_BP, since, until)
    }
    lowest: tuple[float, float, str] | None = None
    for t, dbp, source in diastolic:
        sbp = systolic.get((t, source))
        if sbp is None:
            continue
        mean = round((sbp + 2 * dbp) / 3, 1)
        if lowest is None or mean <= lowest[1]:
            lowest = (t, mean, source)
    return lowest


def score_cardiovascular(
    features: FeatureStore, patient: str, as_of: datetime
) -> CardiovascularComponent:
    """SOFA cardiovascular from the lowest MAP and the highest rate of each vasoactive agent
    in the 24 h before ``as_of``; the input with the most points decides (ties: the agent)."""
    until = as_of.timestamp()
    since = until - WINDOW_S
    tz = as_of.tzinfo
    infusions: list[Infusion] = []
    for parameter in VASOACTIVE_PARAMETERS:
        worst = features.worst(patient, parameter, since, until, highest=True)
        if worst is not None:
            t, rate, source_id = worst
            infusions.append(Infusion(parameter, rate, datetime.fromtimestamp(t, tz), source_id))
    candidates: list[tuple[int, Parameter, float, float, str]] = []
    lowest_map = _lowest_map(features, patient, since, until)
    if lowest_map is not None:
        t, mean, source_id = lowest_map
        points = cardiovascular_points(Parameter.MEAN_ARTERIAL_PRESSURE, mean)
        candidates.append((points, Parameter.MEAN_ARTERIAL_PRESSURE, mean, t, source_id))
    for infusion in infusions:
        points = cardiovascular_points(infusion.parameter, infusion.rate)
        candidates.append(
            (points, infusion.parameter, infusion.rate, infusion.observed_at.timestamp(),
             infusion.source_id)
        )  # fmt: skip
    if not candidates:
        return NO_CARDIOVASCULAR
    # most points; on a tie an agent over the MAP (stable: the MAP comes first)
    best = max(reversed(candidates), key=lambda c: c[0])
    points, basis, value, t, source_id = best
    return CardiovascularComponent(
        points, basis, value, datetime.fromtimestamp(t, tz), source_id, tuple(infusions)
    )


def _flag(
    features: FeatureStore, patient: str, parameter: Parameter, as_of: datetime
) -> LabFlag | None:
    until = as_of.timestamp()
    latest = features.last_before(patient, parameter, until)
    if latest is None or until - latest[0] > WINDOW_S:
        return None
    t, value, source_id = latest
    flags: tuple[str, ...]
    if parameter is Parameter.LACTATE:
        flags = tuple(
            name
            for name, met in (
                ("elevated", value > LACTATE_ELEVATED_MMOL_L + _EPSILON),
                ("severe", value + _EPSILON >= LACTATE_SEVERE_MMOL_L),
            )
            if met
        )
    else:
        flags = ("high",) if value > WBC_HIGH + _EPSILON else ("low",) if value < WBC_LOW else ()
    when = datetime.fromtimestamp(t, as_of.tzinfo)
    return LabFlag(parameter, value, when, until - t, source_id, flags)
