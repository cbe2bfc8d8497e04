"""Vendor dialects of HL7 v2 as data: ``policies/ehr/vendors/<name>.yaml``.

A profile says how one sending system deviates from the canonical feed (LOINC codes, UCUM
units, UTC timestamps, MSH-10 always there): its local observation codes and the LOINC code
each stands for, its units and the linear conversion to the UCUM unit clinflow keeps
(``ucum = (value + offset) * factor``, e.g. ``deg F``), the time zone of timestamps sent
without an offset, the Z-segments it adds (ignored, never an error), whether MSH-10 may be
missing, and the identifier type its MRN carries in PID-3. The mapper reads a message with
the profile whose ``match`` names the message's MSH-3 (else ``standard``); the generator
writes the same dialect back (``clinflow generate --format hl7v2 --vendor NAME``).
"""

from __future__ import annotations

import re
from datetime import timedelta
from datetime import timezone as TimeZone
from functools import cache
from pathlib import Path

from pydantic import Field, field_validator

from clinflow.config import policies_dir
from clinflow.errors import ConfigError
from clinflow.policy_loader import PolicyModel, Shape, read_document

VENDORS_DIR = policies_dir() / "ehr" / "vendors"
DEFAULT_VENDOR = "standard"
SHAPE = Shape(rule_maps=frozenset({"observations", "units"}), kind="vendor profile")
_OFFSET = re.compile(r"^([+-])(\d{2}):?(\d{2})$")
_SEGMENT = re.compile(r"^Z[A-Z0-9]{2}$")


class UnitConversion(PolicyModel):
    """A local unit and the UCUM unit it becomes: ``ucum = (value + offset) * factor``."""

    ucum: str = Field(min_length=1)
    factor: float = 1.0
    offset: float = 0.0
    decimals: int | None = Field(default=None, ge=0, le=6)  # rounding after conversion
    emit_decimals: int = Field(default=2, ge=0, le=6)  # rounding when the generator writes it

    def to_ucum(self, value: float) -> float:
        converted = (value + self.offset) * self.factor
        return round(converted, self.decimals) if self.decimals is not None else converted

    def from_ucum(self, value: float) -> float:
        return round(value / self.factor - self.offset, self.emit_decimals)


class ObservationCode(PolicyModel):
    """A local OBX-3 code and the LOINC (or SNOMED CT, for ACVPU) code it stands for."""

    code: str = Field(min_length=1)  # the canonical code (LOINC; SNOMED for ACVPU)
    text: str = ""  # what the vendor writes in OBX-3.2
    unit: str = ""  # the unit the vendor writes in OBX-6 for it ("" = the UCUM unit)
    conversion: UnitConversion | None = None  # for ``unit`` with this code only


class Match(PolicyModel):
    sending_application: tuple[str, ...] = ()  # MSH-3.1 values this vendor sends


class VendorProfile(PolicyModel):
    """One sending system's dialect (see the module docstring)."""

    version: int = Field(ge=1)
    vendor: str = Field(pattern=r"^[a-z][a-z0-9-]{1,40}$")
    description: str = ""
    match: Match = Match()
    sending_application: str = Field(default="CLINFLOW", min_length=1)  # MSH-3 when emitting
    sending_facility: str = Field(default="CLINFLOW-HOSP", min_length=1)  # MSH-4 when emitting
    hl7_version: str = "2.5.1"
    timezone: str = "+00:00"  # offset of timestamps sent without one
    emit_timezone: bool = True  # False: the generator writes local time without an offset
    control_id: str = Field(default="required", pattern="^(required|optional)$")
    missing_control_id_every: int = Field(default=0, ge=0)  # generator: drop MSH-10 every Nth
    resend_every: int = Field(default=0, ge=0)  # generator: every Nth message sent twice
    late_every: int = Field(default=0, ge=0)  # generator: every Nth ORU^R01 delivered late...
    late_by: int = Field(default=3, ge=1, le=100)  # ...after this many later messages
    mrn_type: str = "MR"  # PID-3.5 of the MRN
    mrn_authority: str = "CLINFLOW"  # PID-3.4 of the MRN when emitting
    z_segments: tuple[str, ...] = ()
    escape_non_ascii: bool = False  # generator: non-ASCII text as hexadecimal escapes
    observations: dict[str, ObservationCode] = Field(default_factory=dict)  # local code -> code
    units: dict[str, UnitConversion] = Field(default_factory=dict)  # local unit -> UCUM

    @field_validator("timezone")
    @classmethod
    def _offset(cls, value: str) -> str:
        if not _OFFSET.match(value):
            raise ValueError("expected an offset like +00:00 or -0500")
        return value

    @field_validator("z_segments")
    @classmethod
    def _z(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if not _SEGMENT.match(name):
                raise ValueError(f"{name!r} is not a Z-segment name (Z and two letters/digits)")
        return value

    @property
    def tz(self) -> TimeZone:
        return _zone(self.timezone)

    def local_code(self, canonical: str) -> tuple[str, str, str]:
        """(OBX-3.1, OBX-3.2, OBX-6) the vendor writes for ``canonical`` (the canonical code
        and "" when it does not remap it)."""
        for local, entry in self.observations.items():
            if entry.code == canonical:
                return local, entry.text, entry.unit
        return canonical, "", ""

    def canonical_code(self, local: str) -> str:
        entry = self.observations.get(local)
        return entry.code if entry is not None else local


@cache
def _zone(offset: str) -> TimeZone:
    match = _OFFSET.match(offset)
    assert match is not None  # checked when the profile was loaded
    sign = -1 if match.group(1) == "-" else 1
    return TimeZone(sign * timedelta(hours=int(match.group(2)), minutes=int(match.group(3))))


def load_profile(path: Path) -> VendorProfile:
    """Read and validate one profile; a bad file raises ``PolicyError`` (file:line: ...)."""
    document = read_document(path, SHAPE)
    profile = document.validate(VendorProfile)
    for local, conversion in profile.units.items():
        if conversion.factor == 0:
            raise document.error(("units", local, "factor"), "factor must not be 0")
    return profile


@cache
def vendor_profiles(folder: Path = VENDORS_DIR) -> dict[str, VendorProfile]:
    """Every profile in ``folder`` by vendor name (the built-in ``standard`` always there)."""
    profiles = {DEFAULT_VENDOR: VendorProfile(version=1, vendor=DEFAULT_VENDOR)}
    for path in sorted(folder.glob("*.yaml")):
        profile = load_profile(path)
        profiles[profile.vendor] = profile
    return profiles


def vendor_profile(name: str, folder: Path = VENDORS_DIR) -> VendorProfile:
    profiles = vendor_profiles(folder)
    if name not in profiles:
        raise ConfigError(f"--vendor {name!r}: expected one of {', '.join(sorted(profiles))}")
    return profiles[name]


def profile_for(sending_application: str, folder: Path = VENDORS_DIR) -> VendorProfile:
    """The profile whose ``match`` names this MSH-3.1, else ``standard``."""
    profiles = vendor_profiles(folder)
    for profile in profiles.values():
        if sending_application in profile.match.sending_application:
            return profile
    return profiles[DEFAULT_VENDOR]
