"""The synthetic population's data model, shared by the FHIR, notes and DICOM generators.

Every identifier here is planted PHI: whichever generator writes one of these values into an
output must also record it in the manifest (``clinflow.synthetic.manifest``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass(frozen=True, slots=True)
class Address:
    line: str  # street address, e.g. "42 Elm Street"
    city: str
    state: str  # two-letter code
    postal_code: str  # five-digit zip


@dataclass(frozen=True, slots=True)
class Person:
    """A named person: the patient, a relative or a clinician."""

    given: tuple[str, ...]  # one or more given names (multi-part, may be non-ASCII)
    family: str  # may be multi-part ("de la Cruz") or non-ASCII ("Müller")
    prefix: str = ""  # "Dr.", "Mrs.", ...
    phone: str = ""  # e.g. "(555) 123-4567"; empty when not known

    @property
    def full_name(self) -> str:
        return " ".join((*self.given, self.family))

    @property
    def dicom_name(self) -> str:
        """PS3.5 Person Name: ``Family^Given^Middle^Prefix``."""
        first, *middle = self.given
        return "^".join((self.family, first, " ".join(middle), self.prefix)).rstrip("^")


@dataclass(frozen=True, slots=True)
class Relative:
    person: Person
    relationship: str  # v3 RoleCode, e.g. "MTH", "FTH", "SPS", "CHILD", "SIB"


@dataclass(frozen=True, slots=True)
class Clinician:
    person: Person
    role: str  # "attending", "referring", "radiologist", "nurse", ...
    npi: str  # 10-digit National Provider Identifier (planted as a license/other id)


@dataclass(frozen=True, slots=True)
class Institution:
    name: str  # e.g. "St. Brigid Regional Medical Center"
    department: str
    address: Address


@dataclass(frozen=True, slots=True)
class Patient:
    """One synthetic patient with every identifier HIPAA Safe Harbor lists that we plant."""

    index: int  # position in the cohort (0-based); the per-patient RNG derives from it
    fhir_id: str  # FHIR logical id of the Patient resource
    mrn: str  # medical record number: the patient key for pseudonyms and date offsets
    ssn: str  # "ddd-dd-dddd", valid by SSA rules (no 000/666/9xx area)
    person: Person
    birth_date: date
    sex: str  # FHIR administrative gender: male | female | other | unknown
    race: str  # OMB race code (CDC race & ethnicity code system), e.g. "2106-3"
    ethnicity: str  # OMB ethnicity code, e.g. "2186-5"
    address: Address
    email: str
    health_plan_id: str
    account_number: str
    relatives: tuple[Relative, ...]
    clinicians: tuple[Clinician, ...]
    institution: Institution
    admitted_at: datetime  # start of the index encounter (timezone-aware)
    deteriorates: bool = False  # ground-truth label
    deterioration_onset: datetime | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def age_at(self, when: date) -> int:
        years = when.year - self.birth_date.year
        if (when.month, when.day) < (self.birth_date.month, self.birth_date.day):
            years -= 1
        return years


@dataclass(frozen=True, slots=True)
class SeriesRecord:
    uid: str
    number: int
    modality: str
    description: str
    instance_uids: tuple[str, ...]
    files: tuple[str, ...]  # paths relative to the output directory


@dataclass(frozen=True, slots=True)
class StudyRecord:
    """What the DICOM generator wrote for one study, so FHIR ImagingStudy can link to it."""

    uid: str
    accession_number: str
    started: datetime
    description: str
    series: tuple[SeriesRecord, ...]
