"""A patient's stay beyond vitals and notes: diagnoses, medication orders, a report, billing.

``ClinicalPlan.draw`` makes every choice for one stay from one RNG (codes, times, planted
identifiers, charges); ``clinflow.synthetic.fhir.clinical`` and ``.billing`` turn it into
Condition, MedicationRequest, DiagnosticReport, Claim and ExplanationOfBenefit resources.
The plan is small (a few hundred bytes), so the timed stream can keep one per admitted
patient until the stay's last event. Codes are real (SNOMED CT, ICD-10-CM, RxNorm ingredient
concepts, LOINC, CPT) but the combinations are invented: mock data for a simulator.

Times (``events``) all fall in ``[admission, discharge]`` except the claim, sent after
discharge, and the payer's EOB, a few hours after the claim (real adjudication takes days;
hours keep a timed stream short).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from clinflow.synthetic.model import Patient


@dataclass(frozen=True, slots=True)
class Diagnosis:
    snomed: str
    icd10: str
    display: str


@dataclass(frozen=True, slots=True)
class Medication:
    rxnorm: str  # RxNorm ingredient concept
    display: str
    dosage: str


@dataclass(frozen=True, slots=True)
class Service:
    cpt: str
    display: str
    price: float  # USD


# Admission diagnoses (SNOMED CT, ICD-10-CM) with the orders that usually follow them.
DIAGNOSES: dict[str, tuple[Diagnosis, tuple[Medication, ...]]] = {
    "sepsis": (
        Diagnosis("91302008", "A41.9", "Sepsis"),
        (
            Medication("11124", "vancomycin", "1 g IV every 12 hours"),
            Medication("2193", "ceftriaxone", "2 g IV every 24 hours"),
            Medication("9863", "sodium chloride", "0.9% 30 mL/kg IV bolus"),
        ),
    ),
    "pneumonia": (
        Diagnosis("233604007", "J18.9", "Pneumonia"),
        (
            Medication("2193", "ceftriaxone", "1 g IV every 24 hours"),
            Medication("18631", "azithromycin", "500 mg IV every 24 hours"),
        ),
    ),
    "copd": (
        Diagnosis(
            "195951007", "J44.1", "Acute exacerbation of chronic obstructive airways disease"
        ),
        (
            Medication("435", "albuterol", "2.5 mg nebulized every 4 hours"),
            Medication("8640", "prednisone", "40 mg by mouth daily"),
        ),
    ),
    "heart_failure": (
        Diagnosis("84114007", "I50.9", "Heart failure"),
        (
            Medication("4603", "furosemide", "40 mg IV twice daily"),
            Medication("6918", "metoprolol", "25 mg by mouth twice daily"),
        ),
    ),
    "uti": (
        Diagnosis("68566005", "N39.0", "Urinary tract infectious disease"),
        (Medication("2193", "ceftriaxone", "1 g IV every 24 hours"),),
    ),
    "aki": (
        Diagnosis("14669001", "N17.9", "Acute renal failure syndrome"),
        (Medication("9863", "sodium chloride", "0.9% 125 mL/h IV"),),
    ),
    "chest_pain": (
        Diagnosis("29857009", "R07.9", "Chest pain"),
        (
            Medication("1191", "aspirin", "325 mg by mouth once"),
            Medication("5224", "heparin", "60 units/kg IV bolus"),
        ),
    ),
}
COMORBIDITIES = (
    Diagnosis("38341003", "I10", "Hypertensive disorder"),
    Diagnosis("44054006", "E11.9", "Diabetes mellitus type 2"),
    Diagnosis("433144002", "N18.30", "Chronic kidney disease stage 3"),
    Diagnosis("49436004", "I48.91", "Atrial fibrillation"),
)
SUPPORTIVE = (
    Medication("161", "acetaminophen", "1 g by mouth every 6 hours as needed"),
    Medication("67108", "enoxaparin", "40 mg subcutaneously daily"),
)
# Pattern of deterioration -> likely admission diagnoses.
_BY_PATTERN = {"sepsis": ("sepsis",), "respiratory_failure": ("pneumonia", "copd")}
# (LOINC, display, v2-0074 section code, section display)
REPORT_TYPES = (
    ("18748-4", "Diagnostic imaging study", "RAD", "Radiology"),
    ("11502-2", "Laboratory report", "LAB", "Laboratory"),
    ("11526-1", "Pathology study", "SP", "Surgical Pathology"),
)
SERVICES = {
    "ED": Service("99285", "Emergency department visit, high severity", 1450.0),
    "ICU": Service("99291", "Critical care, first 30-74 minutes", 1890.0),
}
ANCILLARY = (
    Service("71045", "Radiologic examination, chest; single view", 310.0),
    Service("36415", "Collection of venous blood by venipuncture", 25.0),
    Service("93005", "Electrocardiogram, routine; tracing only", 120.0),
    Service("80053", "Comprehensive metabolic panel", 95.0),
    Service("85025", "Complete blood count with automated differential", 60.0),
)
PAYERS = (
    "Bluebonnet Mutual Health Plan",
    "Granite State Health Cooperative",
    "Cascade Benefit Administrators",
)


class ClinicalEvent(StrEnum):
    CONDITION = "condition"
    MEDICATION = "medication"
    REPORT = "report"
    CLAIM = "claim"
    EOB = "eob"


@dataclass(frozen=True, slots=True)
class ClinicalPlan:
    """Everything drawn for one stay; ``events`` is what happens when, in time order."""

    diagnoses: tuple[Diagnosis, ...]  # admission diagnosis first
    onset: datetime  # symptom onset, before admission
    recorded: tuple[datetime, ...]  # per diagnosis
    problem_ids: tuple[str, ...]  # per diagnosis
    medications: tuple[Medication, ...]
    ordered: tuple[datetime, ...]  # per medication
    order_numbers: tuple[str, ...]  # per medication
    report: tuple[str, str, str, str]  # one of REPORT_TYPES
    report_effective: datetime
    report_issued: datetime
    report_accession: str
    services: tuple[Service, ...]
    claim_number: str
    claim_created: datetime
    payer: str
    payer_control_number: str
    eob_created: datetime
    paid_share: float  # of the total, by the payer

    @property
    def events(self) -> list[tuple[datetime, ClinicalEvent, int]]:
        """(time, event, index into the plan's tuples), sorted by time (ties: this order)."""
        events = [(at, ClinicalEvent.CONDITION, n) for n, at in enumerate(self.recorded)]
        events += [(at, ClinicalEvent.MEDICATION, n) for n, at in enumerate(self.ordered)]
        events.append((self.report_issued, ClinicalEvent.REPORT, 0))
        events.append((self.claim_created, ClinicalEvent.CLAIM, 0))
        events.append((self.eob_created, ClinicalEvent.EOB, 0))
        return sorted(events, key=lambda event: event[0])

    @property
    def total(self) -> float:
        return round(sum(service.price for service in self.services), 2)

    @classmethod
    def draw(cls, rng: random.Random, patient: Patient, discharged: datetime) -> ClinicalPlan:
        admitted = patient.admitted_at
        stay = discharged - admitted

        def during(low: float, high: float) -> datetime:
            """A time ``low..high`` of the way through the stay, to the minute."""
            moment = admitted + stay * rng.uniform(low, high)
            return moment.replace(second=0, microsecond=0)

        pattern = patient.extra.get("pattern", "")
        primary = rng.choice(_BY_PATTERN.get(pattern, tuple(DIAGNOSES)))
        diagnosis, orders = DIAGNOSES[primary]
        diagnoses = [diagnosis]
        if rng.random() < 0.6:
            diagnoses.append(rng.choice(COMORBIDITIES))
        recorded = sorted(during(0.02, 0.1) for _ in diagnoses)
        medications = list(orders[: rng.randint(1, len(orders))])
        if rng.random() < 0.5:
            medications.append(rng.choice(SUPPORTIVE))
        ordered = sorted(during(0.03, 0.2) for _ in medications)
        effective = during(0.1, 0.5)
        issued = min(discharged, effective + timedelta(minutes=rng.randint(30, 180)))
        setting = patient.extra.get("encounter_class", "ED")
        services = (SERVICES.get(setting, SERVICES["ED"]), *rng.sample(ANCILLARY, 3))
        claim_created = discharged + timedelta(minutes=rng.randint(60, 240))
        return cls(
            diagnoses=tuple(diagnoses),
            onset=admitted - timedelta(hours=rng.randint(6, 96)),
            recorded=tuple(recorded),
            problem_ids=tuple(f"PRB{rng.randint(10**7, 10**8 - 1)}" for _ in diagnoses),
            medications=tuple(medications),
            ordered=tuple(ordered),
            order_numbers=tuple(f"ORD{rng.randint(10**8, 10**9 - 1)}" for _ in medications),
            report=rng.choice(REPORT_TYPES),
            report_effective=effective,
            report_issued=issued.replace(second=0, microsecond=0),
            report_accession=f"RPT{rng.randint(10**8, 10**9 - 1)}",
            services=services,
            claim_number=f"CLM{rng.randint(10**9, 10**10 - 1)}",
            claim_created=claim_created,
            payer=rng.choice(PAYERS),
            payer_control_number=f"PCN{rng.randint(10**10, 10**11 - 1)}",
            eob_created=claim_created + timedelta(minutes=rng.randint(60, 480)),
            paid_share=rng.choice((0.7, 0.8, 0.9)),
        )
