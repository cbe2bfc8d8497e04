"""Residual-PHI scanner: every output byte stream checked against the generator's manifest.

For each manifest entry the scanner looks in the output file that corresponds to the entry's
file (same relative path; a leading folder may be dropped, e.g. ``dicom/``) for the value and
its common reformattings: exact and case-folded; dates as YYYYMMDD, YYYY-MM-DD, MM/DD/YYYY,
"March 5, 1950", "5 March 1950"; names as ``LAST^FIRST``, "First Last", "Last, First"; digits
without punctuation for phones, SSNs, MRNs and other numbers. DICOM files are searched in
every decoded element value (sequences at any depth, private tags, file meta) and in their
raw bytes; JSON/ndjson/text files in their text and in base64 attachments they carry.

Burned-in entries (``pixels[frame]:x,y,w,h``) count as hidden when the box is uniform in the
output (masked) or the file is absent (quarantined). UID entries must be absent (remapped).
A MIDI-B-style scorecard reports, per check type, the share of correct actions.

Findings carry kind, file and location; the value itself only when asked (``show_values``).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import Any

from pydicom import dcmread
from pydicom.dataset import Dataset

from clinflow.synthetic.dicom.phi import tag_text
from clinflow.synthetic.manifest import PhiEntry, PhiKind, read_manifest

DICOM_SUFFIXES = {".dcm", ".dicom", ""}
TEXT_SUFFIXES = {".json", ".ndjson", ".txt", ".csv", ".xml", ".html", ".md", ".yaml"}
# every spelling the generator's notes use (synthetic.notes.format_date) and a few more: a
# date the scanner cannot read is never recognised as the shifted image of another
_DATE_FORMATS = ("%Y%m%d", "%Y-%m-%d", "%m/%d/%Y", "%m/%d/%y", "%B %d, %Y", "%d %B %Y",
                 "%b %d, %Y", "%d %b %Y")  # fmt: skip
_DIGIT_KINDS = {
    PhiKind.PHONE,
    PhiKind.FAX,
    PhiKind.SSN,
    PhiKind.MRN,
    PhiKind.HEALTH_PLAN,
    PhiKind.ACCOUNT,
    PhiKind.LICENSE,
    PhiKind.OTHER_ID,
    PhiKind.DEVICE,
}
_REFERENCE_TAGS = {0x00081155, 0x00041511, 0x30060024, 0x00200052, 0x0020000D, 0x0020000E}
_DEFINED_TAGS = (0x00080018, 0x0020000D, 0x0020000E, 0x00200052)
_B64 = re.compile(rb'"data"\s*:\s*"([A-Za-z0-9+/=]{16,})"')
_PIXELS = re.compile(r"^pixels\[(\d+)\]:(\d+),(\d+),(\d+),(\d+)$")

CHECKS = (
    "tag retained",
    "text removed",
    "date shifted",
    "UID changed",
    "UID consistent",
    "patient id consistent",
    "pixels hidden",
)
# Attributes a de-identified image must keep (MIDI-B "tag retained": not over-scrubbed) and
# the markers PS3.15 E.1.1 asks for.
RETAINED = ("SOPClassUID", "Modality", "Rows", "Columns", "BitsAllocated", "PixelData")


@dataclass(frozen=True, slots=True)
class Finding:
    """One residual identifier: what kind, in which file, where (value only on request)."""

    kind: str
    file: str
    location: str
    variant: str
    patient: str = ""
    value: str = ""


@dataclass(slots=True)
class Check:
    correct: int = 0
    total: int = 0

    def add(self, ok: bool) -> None:
        self.total += 1
        self.correct += int(ok)

    @property
    def share(self) -> float:
        return self.correct / self.total if self.total else 1.0


@dataclass(slots=True)
class LeakReport:
    entries: int = 0
    files_scanned: int = 0
    files_absent: int = 0
    findings: list[Finding] = field(default_factory=list)
    # planted dates that equal a shifted date of the same patient (see ``scan``)
    coincidental: list[Finding] = field(default_factory=list)
    checks: dict[str, Check] = field(default_factory=lambda: {c: Check() for c in CHECKS})

    @property
    def residual(self) -> int:
        return len(self.findings)

    def by_kind(self) -> dict[str, int]:
        return dict(sorted(Counter(f.kind for f in self.findings).items()))

    def scorecard(self) -> dict[str, float]:
        return {name: round(check.share, 6) for name, check in self.checks.items()}

    def overall(self) -> float:
        correct = sum(c.correct for c in self.checks.values())
        total = sum(c.total for c in self.checks.values())
        return correct / total if total else 1.0

    def to_json(self, show_values: bool = False) -> dict[str, Any]:
        return {
            "entries": self.entries,
            "files_scanned": self.files_scanned,
            "files_absent": self.files_absent,
            "residual": self.residual,
            "residual_by_kind": self.by_kind(),
            "coincidental_shifted_dates": len(self.coincidental),
            "scorecard": {
                name: {"correct": c.correct, "total": c.total, "share": round(c.share, 6)}
                for name, c in self.checks.items()
            },
            "scorecard_overall": round(self.overall(), 6),
            "findings": [
                {
                    "kind": f.kind,
                    "file": f.file,
                    "location": f.location,
                    "variant": f.variant,
                    **({"value": f.value} if show_values else {}),
                }
                for f in self.findings
            ],
        }


# --- variants ------------------------------------------------------------------------------


def _parse_date(value: str) -> date | None:
    text = value.strip()
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def _name_parts(value: str) -> tuple[str, str] | None:
    if "^" in value:
        parts = [p.strip() for p in value.split("=")[0].split("^")]
        family, given = parts[0], parts[1] if len(parts) > 1 else ""
        return (family, given) if family and given else None
    if "," in value:
        family, _, given = value.partition(",")
        return family.strip(), given.strip()
    words = value.split()
    if len(words) >= 2:
        return words[-1], " ".join(words[:-1])
    return None


@lru_cache(maxsize=65_536)
def variants(value: str, kind: PhiKind) -> tuple[tuple[str, str], ...]:
    """(variant name, case-folded text) pairs to search for."""
    out: dict[str, str] = {value.casefold(): "exact"}
    if kind is PhiKind.AGE_OVER_89 and value.strip().isdigit():
        # A bare "93" is searched for only in age context: alone it matches vital-sign values,
        # hex pseudonyms and the "90+" aggregate Safe Harbor prescribes (false residuals).
        years = value.strip()
        out = {
            text.casefold(): "age in context"
            for text in (
                f"{years}-year-old", f"{years} year old", f"{years} years old",
                f"{years}-year", f"{years} years", f"{years} y/o", f"{years} yo",
                f"{years}yo", f"aged {years}", f"age {years}", f"age: {years}",
                f"{years:0>3}Y",
            )
        }
    elif kind is PhiKind.DATE:
        day = _parse_date(value)
        if day is not None:
            forms = {
                "YYYYMMDD": f"{day:%Y%m%d}",
                "YYYY-MM-DD": f"{day:%Y-%m-%d}",
                "MM/DD/YYYY": f"{day:%m/%d/%Y}",
                "M/D/YYYY": f"{day.month}/{day.day}/{day.year}",
                "Month D, YYYY": f"{day:%B} {day.day}, {day.year}",
                "D Month YYYY": f"{day.day} {day:%B} {day.year}",
                "Mon D, YYYY": f"{day:%b} {day.day}, {day.year}",
            }
            for name, text in forms.items():
                out.setdefault(text.casefold(), name)
        elif re.fullmatch(r"\d{6}", value.strip()):
            t = value.strip()
            out.setdefault(f"{t[:2]}:{t[2:4]}:{t[4:]}", "HH:MM:SS")
    elif kind is PhiKind.NAME:
        parts = _name_parts(value)
        if parts is not None:
            family, given = parts
            first = given.split()[0] if given.split() else given
            for name, text in (
                ("LAST^FIRST", f"{family}^{first}"),
                ("First Last", f"{first} {family}"),
                ("Given Last", f"{given} {family}"),
                ("Last, First", f"{family}, {first}"),
            ):
                out.setdefault(text.casefold(), name)
    if kind in _DIGIT_KINDS:
        # Punctuation dropped ("555-123-4567" -> "5551234567"); letters are kept, since the
        # bare digits of "S121029" are a different identifier (and a DICOM concept code).
        compact = re.sub(r"[\W_]", "", value).casefold()
        if len(compact) >= 6:
            out.setdefault(compact, "digits" if compact.isdigit() else "no punctuation")
    return tuple((name, text) for text, name in out.items() if len(text) >= 2)


@lru_cache(maxsize=65_536)
def _bounded(text: str) -> re.Pattern[str]:
    return re.compile(r"(?<![0-9a-z])" + re.escape(text) + r"(?![0-9a-z])")


@lru_cache(maxsize=65_536)
def _bounded_bytes(text: bytes) -> re.Pattern[bytes]:
    return re.compile(rb"(?<![0-9a-zA-Z])" + re.escape(text) + rb"(?![0-9a-zA-Z])", re.I)


# --- reading outputs -----------------------------------------------------------------------


@dataclass(slots=True)
class Haystack:
    """Searchable forms of one output file."""

    elements: list[tuple[str, str]]  # (location, case-folded text)
    joined: str
    raw: bytes
    dataset: Dataset | None = None

    def find(self, needle: str) -> str | None:
        """Location of a bounded match of ``needle`` (case-folded), or None."""
        if needle in self.joined and _bounded(needle).search(self.joined):
            pattern = _bounded(needle)
            for location, text in self.elements:
                if needle in text and pattern.search(text):
                    return location
            return "text"
        for encoding in ("utf-8", "latin-1"):
            try:
                encoded = needle.encode(encoding)
            except UnicodeEncodeError:
                continue
            if encoded in self.raw or encoded.upper() in self.raw:
                match = _bounded_bytes(encoded).search(self.raw)
                if match:
                    return f"raw-bytes@{match.start()}"
        return None


def _dicom_elements(ds: Dataset, prefix: str = "") -> Iterator[tuple[str, str]]:
    for elem in ds:
        location = prefix + tag_text(elem.tag)
        if elem.VR == "SQ":
            for index, item in enumerate(elem.value or ()):
                yield from _dicom_elements(item, f"{location}[{index}].")
            continue
        if elem.tag == 0x7FE00010 or elem.VR in ("OB", "OW", "OF", "OD", "OL", "OV"):
            continue
        value = elem.value
        if isinstance(value, bytes):
            text = value.decode("latin-1", errors="replace")
        elif isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
            text = "\\".join(str(v) for v in value)
        else:
            text = str(value)
        if text:
            yield location, text.casefold()


def read_haystack(path: Path) -> Haystack:
    raw = path.read_bytes()
    is_dicom = raw[128:132] == b"DICM" or path.suffix.lower() == ".dcm"
    if is_dicom:
        try:
            ds = dcmread(BytesIO(raw), force=True)  # the bytes already read
            elements = list(_dicom_elements(ds.file_meta, "meta.")) if ds.file_meta else []
            elements += list(_dicom_elements(ds))
            return Haystack(elements, "\n".join(t for _, t in elements), raw, ds)
        except Exception:  # unreadable output: fall back to raw bytes only
            return Haystack([], "", raw)
    text = raw.decode("utf-8", errors="replace")
    elements = [("text", text.casefold())]
    for index, match in enumerate(_B64.finditer(raw)):
        try:
            decoded = base64.b64decode(match.group(1), validate=True)
        except (binascii.Error, ValueError):
            continue
        elements.append((f"attachment[{index}]", decoded.decode("utf-8", "replace").casefold()))
    return Haystack(elements, "\n".join(t for _, t in elements), raw)


# --- scanning ------------------------------------------------------------------------------


def _resolver(manifest_files: Iterable[str], output_dir: Path) -> dict[str, Path | None]:
    """Map manifest file paths to output paths, dropping a common leading folder if needed."""
    files = sorted(set(manifest_files))
    best: tuple[int, int] = (-1, 0)
    for drop in range(0, 3):
        sample = files[:: max(1, len(files) // 50)]
        hits = sum(1 for f in sample if (output_dir.joinpath(*Path(f).parts[drop:])).is_file())
        if hits > best[0]:
            best = (hits, drop)
    drop = best[1]
    out: dict[str, Path | None] = {}
    for f in files:
        candidate = output_dir.joinpath(*Path(f).parts[drop:])
        out[f] = candidate if candidate.is_file() else None
    return out


def _region_hidden(ds: Dataset, frame: int, x: int, y: int, w: int, h: int) -> bool:
    try:
        pixels = ds.pixel_array
    except Exception:
        return False  # undecodable pixels: cannot prove the text is gone
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    image = pixels[frame] if frames > 1 else pixels
    region = image[y : y + h, x : x + w]
    return bool(region.size == 0 or (region == region.flat[0]).all())


def _shifted_dates(
    entries: list[PhiEntry], date_offset_days: Callable[[str], int]
) -> dict[str, set[date]]:
    """Per patient, the shifted image of every planted date (what de-identification writes)."""
    shifted: dict[str, set[date]] = defaultdict(set)
    for entry in entries:
        if entry.kind is PhiKind.DATE:
            day = _parse_date(entry.value[:10]) or _parse_date(entry.value)
            if day is not None:
                offset = date_offset_days(entry.patient)
                shifted[entry.patient].add(day + timedelta(days=offset))
    return shifted


def scan(
    manifest: Path,
    output_dir: Path,
    date_offset_days: Callable[[str], int] | None = None,
) -> LeakReport:
    """Scan ``output_dir`` against the manifest; returns findings and the scorecard.

    With ``date_offset_days`` (the deployment's keyed offset per patient key), a planted date
    found in the output that equals the *shifted* image of another of the same patient's
    dates is reported as coincidental, not as residual: by value alone the two cannot be told
    apart, and de-identification wrote it (probability about 1 in 10^3 patients per note date).
    """
    entries = list(read_manifest(manifest))
    report = LeakReport(entries=len(entries))
    shifted = _shifted_dates(entries, date_offset_days) if date_offset_days else {}
    by_file: dict[str, list[PhiEntry]] = defaultdict(list)
    for entry in entries:
        by_file[entry.file].append(entry)
    resolved = _resolver(by_file, output_dir)
    defined: set[str] = set()
    references: list[str] = []
    patient_ids: dict[str, Counter[str]] = defaultdict(Counter)
    file_patient_id: list[tuple[str, str, str]] = []  # (patient, mrn, output PatientID)
    study_map: dict[str, Counter[str]] = defaultdict(Counter)
    for file, file_entries in by_file.items():
        path = resolved[file]
        if path is None:
            report.files_absent += 1
            for entry in file_entries:
                _score_absent(report, entry)
            continue
        hay = read_haystack(path)
        report.files_scanned += 1
        for entry in file_entries:
            _score_entry(report, hay, entry, file, shifted.get(entry.patient, set()))
        ds = hay.dataset
        if ds is not None:
            _collect_dicom(ds, file_entries, defined, references, study_map)
            patient = file_entries[0].patient
            mrn = next((e.value for e in file_entries if e.location == "(0010,0020)"), "")
            out_id = str(ds.get("PatientID", "") or "")
            patient_ids[patient][out_id] += 1
            file_patient_id.append((patient, mrn, out_id))
            for keyword in RETAINED:
                report.checks["tag retained"].add(keyword in ds)
            report.checks["tag retained"].add(
                str(ds.get("PatientIdentityRemoved", "")).upper() == "YES"
            )
    for reference in references:
        report.checks["UID consistent"].add(reference in defined)
    for outputs in study_map.values():
        common, count = outputs.most_common(1)[0]
        report.checks["UID consistent"].add(count == sum(outputs.values()))
    for patient, mrn, out_id in file_patient_id:
        common = patient_ids[patient].most_common(1)[0][0]
        report.checks["patient id consistent"].add(out_id == common and out_id != mrn)
    return report


def _check_name(entry: PhiEntry) -> str:
    if entry.location.startswith("pixels["):
        return "pixels hidden"
    if entry.kind is PhiKind.UID:
        return "UID changed"
    if entry.kind is PhiKind.DATE:
        return "date shifted"
    return "text removed"


def _score_absent(report: LeakReport, entry: PhiEntry) -> None:
    report.checks[_check_name(entry)].add(True)


def _score_entry(
    report: LeakReport,
    hay: Haystack,
    entry: PhiEntry,
    file: str,
    shifted_dates: set[date] | frozenset[date] = frozenset(),
) -> None:
    check = _check_name(entry)
    if check == "pixels hidden":
        match = _PIXELS.match(entry.location)
        hidden = False
        if match and hay.dataset is not None and "PixelData" in hay.dataset:
            frame, x, y, w, h = (int(g) for g in match.groups())
            hidden = _region_hidden(hay.dataset, frame, x, y, w, h)
        elif hay.dataset is not None and "PixelData" not in hay.dataset:
            hidden = True  # pixel data removed altogether
        report.checks[check].add(hidden)
        if not hidden:
            report.findings.append(
                Finding(
                    entry.kind.value, file, entry.location, "pixels", entry.patient, entry.value
                )
            )
        return
    for name, text in variants(entry.value, entry.kind):
        location = hay.find(text)
        if location is not None:
            if entry.kind is PhiKind.DATE and _parse_date(entry.value) in shifted_dates:
                report.coincidental.append(
                    Finding(entry.kind.value, file, location, name, entry.patient, entry.value)
                )
                report.checks[check].add(True)
                return
            report.checks[check].add(False)
            report.findings.append(
                Finding(entry.kind.value, file, location, name, entry.patient, entry.value)
            )
            return
    report.checks[check].add(True)


def _collect_dicom(
    ds: Dataset,
    entries: list[PhiEntry],
    defined: set[str],
    references: list[str],
    study_map: dict[str, Counter[str]],
) -> None:
    for tag in _DEFINED_TAGS:
        if tag in ds and ds[tag].value:
            defined.add(str(ds[tag].value))
    meta = getattr(ds, "file_meta", None)
    if meta is not None and "MediaStorageSOPInstanceUID" in meta:
        references.append(str(meta.MediaStorageSOPInstanceUID))
    for elem in ds.iterall():
        if elem.tag in (0x00081155, 0x00041511, 0x30060024) and elem.value:
            values = elem.value if isinstance(elem.value, list) else [elem.value]
            references.extend(str(v) for v in values)
    original_study = next((e.value for e in entries if e.location == "(0020,000D)"), None)
    if original_study is not None:
        study_map[original_study][str(ds.get("StudyInstanceUID", "") or "")] += 1
