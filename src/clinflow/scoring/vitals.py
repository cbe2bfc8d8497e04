"""Readings as the scores see them: one parameter, one value, when, from which input.

Parameters are the vital signs NEWS2/qSOFA score and the laboratory results the SOFA-style
lab components read (``clinflow.scoring.sofa``), each in one canonical unit.

A ``Reading`` keeps the id of the Observation (or message) it came from, so every score and
alert can list its lineage, and its time, so a score can say how old each input was.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Parameter(StrEnum):
    """The physiological parameters scored by NEWS2, qSOFA, the triage mock and the SOFA-style
    lab components (labs in canonical units: lactate mmol/L, creatinine and total bilirubin
    mg/dL, platelets and leukocytes 10^3/uL)."""

    # Enum.__hash__ is a Python-level function; parameters key every hot-path dict lookup, so
    # hash as the plain string (C speed, and consistent with ``==`` on the value).
    __hash__ = str.__hash__

    RESPIRATORY_RATE = "respiratory_rate"
    SPO2 = "spo2"
    SUPPLEMENTAL_OXYGEN = "supplemental_oxygen"
    SYSTOLIC_BP = "systolic_bp"
    HEART_RATE = "heart_rate"
    CONSCIOUSNESS = "consciousness"
    TEMPERATURE = "temperature"
    GCS = "gcs"
    LACTATE = "lactate"
    CREATININE = "creatinine"
    PLATELETS = "platelets"
    BILIRUBIN = "bilirubin"
    WBC = "wbc"
    DIASTOLIC_BP = "diastolic_bp"  # read from a BP panel: MAP for SOFA cardiovascular
    MEAN_ARTERIAL_PRESSURE = "mean_arterial_pressure"  # derived (SBP + 2 DBP) / 3, not held
    # vasoactive infusions (MedicationAdministration dose rates, mcg/kg/min)
    NOREPINEPHRINE = "norepinephrine"
    EPINEPHRINE = "epinephrine"
    DOPAMINE = "dopamine"
    DOBUTAMINE = "dobutamine"


# NEWS2's seven parameters, in the order of RCP 2017 Chart 1.
NEWS2_PARAMETERS: tuple[Parameter, ...] = (
    Parameter.RESPIRATORY_RATE,
    Parameter.SPO2,
    Parameter.SUPPLEMENTAL_OXYGEN,
    Parameter.SYSTOLIC_BP,
    Parameter.HEART_RATE,
    Parameter.CONSCIOUSNESS,
    Parameter.TEMPERATURE,
)

# Laboratory results (canonical unit of each in LAB_UNITS).
LAB_PARAMETERS: tuple[Parameter, ...] = (
    Parameter.LACTATE,
    Parameter.CREATININE,
    Parameter.PLATELETS,
    Parameter.BILIRUBIN,
    Parameter.WBC,
)
LAB_UNITS: dict[Parameter, str] = {
    Parameter.LACTATE: "mmol/L",
    Parameter.CREATININE: "mg/dL",
    Parameter.PLATELETS: "10*3/uL",
    Parameter.BILIRUBIN: "mg/dL",
    Parameter.WBC: "10*3/uL",
}

# Vasoactive infusions the SOFA cardiovascular component reads (dose rates in mcg/kg/min).
VASOACTIVE_PARAMETERS: tuple[Parameter, ...] = (
    Parameter.NOREPINEPHRINE,
    Parameter.EPINEPHRINE,
    Parameter.DOPAMINE,
    Parameter.DOBUTAMINE,
)
DOSE_RATE_UNIT = "ug/kg/min"

NUMERIC_PARAMETERS: frozenset[Parameter] = frozenset(
    {
        Parameter.RESPIRATORY_RATE,
        Parameter.SPO2,
        Parameter.SYSTOLIC_BP,
        Parameter.HEART_RATE,
        Parameter.TEMPERATURE,
        Parameter.GCS,
        Parameter.DIASTOLIC_BP,
        *LAB_PARAMETERS,
        *VASOACTIVE_PARAMETERS,
    }
)


class Consciousness(StrEnum):
    """ACVPU (RCP 2017): Alert, new Confusion, Voice, Pain, Unresponsive."""

    ALERT = "A"
    CONFUSION = "C"
    VOICE = "V"
    PAIN = "P"
    UNRESPONSIVE = "U"


ReadingValue = float | bool | Consciousness


@dataclass(frozen=True, slots=True)
class Reading:
    """One measured value of one parameter.

    ``value`` is a float for numeric parameters (temperature always in °C), a bool for
    supplemental oxygen and a ``Consciousness`` for ACVPU. ``source_id`` is the Observation id
    or message id it was read from (lineage).
    """

    parameter: Parameter
    value: ReadingValue
    time: datetime
    source_id: str


def round_half_up(value: float, places: int = 0) -> int:
    """``value`` scaled by 10**places and rounded half up, as an int.

    The RCP chart is written in whole units (one decimal for temperature); a tiny epsilon makes
    binary floats like 35.05 round as written rather than as stored.
    """
    scale = 10**places
    return int(math.floor(value * scale + 0.5 + 1e-9))


def fahrenheit_to_celsius(value: float) -> float:
    return (value - 32.0) * 5.0 / 9.0
