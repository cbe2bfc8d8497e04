"""The synthetic cohort as HL7 v2 feeds: ADT^A01/A03, ORU^R01 vitals and labs, ADT^A28/A40
(a duplicate registration and its merge), in a vendor dialect.

The generator's timed stream (``clinflow.synthetic.stream``) is read in clinical-time order
and each patient's admission Bundle (Patient + Encounter) becomes an ADT^A01 (PID, PD1, NK1,
PV1) at admission and an ADT^A03 at discharge, each charting time's vital-sign Bundle an
ORU^R01 (PID, PV1, OBR, one OBX per vital sign, systolic and diastolic apart), each blood
draw's laboratory Bundle an ORU^R01 (OBR-4 a laboratory set, one OBX per analyte, in the
dialect's local codes and units), a duplicate registration (a Patient alone) an ADT^A28 and
its merge (the Patient with ``link`` type ``replaces``) an ADT^A40 (PID, MRG). Other resources
(consents, notes, clinical record, imaging) have no place in these feeds and are counted as
skipped. The vendor profile picks codes, units (with conversion), Z-segments, local time,
missing MSH-10 and hexadecimal escapes for non-ASCII text. Messages carry the cohort's
planted PHI (names, MRNs, dates): the stream's PHI manifest lists them.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from clinflow.ehr.hl7 import vitals as v
from clinflow.ehr.hl7.parser import DEFAULT_ENCODING, escape
from clinflow.ehr.hl7.profiles import UnitConversion, VendorProfile
from clinflow.envelope import SourceKind
from clinflow.synthetic.stream import StreamOptions, generate_stream

V2_SEX = {"male": "M", "female": "F", "other": "O", "unknown": "U"}
POINT_OF_CARE = {"Intensive care unit stay": "ICU", "Emergency department visit": "ED"}
CLASS_OF_ACT = {"IMP": "I", "EMER": "E", "AMB": "O"}
VITALS_PANEL = "85353-1^Vital signs panel^LN"
LAB_SET = "26436-6^Laboratory studies (set)^LN"


class Writer:
    """Text leaves escaped for one dialect (hexadecimal escapes for non-ASCII if asked)."""

    def __init__(self, profile: VendorProfile) -> None:
        self.profile = profile

    def text(self, value: object) -> str:
        out = escape(str(value), DEFAULT_ENCODING)
        if self.profile.escape_non_ascii and not out.isascii():
            out = "".join(
                c if c.isascii() else "\\X" + c.encode("utf-8").hex().upper() + "\\" for c in out
            )
        return out

    def time(self, iso_time: str) -> str:
        """FHIR dateTime (UTC, ``...Z``) or date -> HL7 DTM in the dialect's zone."""
        if len(iso_time) == 10:
            return iso_time.replace("-", "")
        moment = datetime.fromisoformat(iso_time.replace("Z", "+00:00")).astimezone(UTC)
        if self.profile.emit_timezone:
            return moment.strftime("%Y%m%d%H%M%S") + "+0000"
        return moment.astimezone(self.profile.tz).strftime("%Y%m%d%H%M%S")

    def msh(self, message_type: str, control_id: str, at: str) -> str:
        p = self.profile
        structure = message_type.replace("^", "_")
        fields = ["MSH", "^~\\&", self.text(p.sending_application), self.text(p.sending_facility),
                  "CLINFLOW", "CLINFLOW", self.time(at), "", f"{message_type}^{structure}",
                  control_id, "P", p.hl7_version]  # fmt: skip
        return "|".join(fields)


def _identifiers(patient: dict[str, Any]) -> dict[str, str]:
    found = {}
    for identifier in patient.get("identifier", []):
        code = identifier["type"]["coding"][0]["code"]
        found[code] = identifier["value"]
    return found


def pid_segment(w: Writer, patient: dict[str, Any]) -> str:
    p = w.profile
    ids = _identifiers(patient)
    pid3 = [f"{w.text(ids['MR'])}^^^{p.mrn_authority}^{p.mrn_type}",
            f"{w.text(patient['id'])}^^^{p.mrn_authority}^PI"]  # fmt: skip
    if "MB" in ids:
        pid3.append(f"{w.text(ids['MB'])}^^^PLAN^MB")
    names = []
    for name in patient.get("name", []):
        given = name.get("given", [])
        first = w.text(given[0]) if given else ""
        middle = w.text(" ".join(given[1:]))
        names.append(f"{w.text(name.get('family', ''))}^{first}^{middle}^^^^L")
    race = ethnicity = ""
    for ext in patient.get("extension", []):
        coding = ext["extension"][0]["valueCoding"]
        cwe = f"{coding['code']}^{w.text(coding.get('display', ''))}^CDCREC"
        if ext["url"].endswith("us-core-race"):
            race = cwe
        elif ext["url"].endswith("us-core-ethnicity"):
            ethnicity = cwe
    addresses = [
        "^".join((w.text(a.get("line", [""])[0]), "", w.text(a.get("city", "")),
                  w.text(a.get("state", "")), w.text(a.get("postalCode", "")), "", "H"))
        for a in patient.get("address", [])
    ]  # fmt: skip
    phones = []
    for telecom in patient.get("telecom", []):
        if telecom["system"] == "email":
            phones.append(f"^NET^Internet^{w.text(telecom['value'])}")
        else:
            phones.append(f"{w.text(telecom['value'])}^PRN^PH")
    fields = [
        "PID", "1", "", "~".join(pid3), "", "~".join(names), "",
        w.time(patient["birthDate"]) if "birthDate" in patient else "",
        V2_SEX.get(patient.get("gender", ""), "U"), "", race, "~".join(addresses), "",
        "~".join(phones), "", "", "", "", w.text(ids.get("AN", "")),
        w.text(ids.get("SS", "")), "", "", ethnicity,
    ]  # fmt: skip
    return "|".join(fields).rstrip("|")


def nk1_segments(w: Writer, patient: dict[str, Any]) -> list[str]:
    out = []
    for number, contact in enumerate(patient.get("contact", []), start=1):
        name = contact.get("name", {})
        given = name.get("given", [])
        xpn = f"{w.text(name.get('family', ''))}^{w.text(given[0]) if given else ''}" + (
            f"^{w.text(' '.join(given[1:]))}" if len(given) > 1 else ""
        )
        relationship = contact.get("relationship", [{}])[0].get("coding", [{}])[0].get("code", "")
        phones = "~".join(f"{w.text(t['value'])}^PRN^PH" for t in contact.get("telecom", []))
        out.append(f"NK1|{number}|{xpn}|{relationship}^^HL70063||{phones}")
    return out


def pv1_segment(w: Writer, encounter: dict[str, Any], discharged: bool) -> str:
    act = encounter.get("class")
    act_code = (act[0]["coding"][0] if isinstance(act, list) else act or {}).get("code", "")
    period = encounter.get("period") or encounter.get("actualPeriod") or {}
    type_text = (encounter.get("type") or [{}])[0].get("text", "")
    who = ""
    participants = encounter.get("participant") or []
    if participants:
        actor = participants[0].get("individual") or participants[0].get("actor") or {}
        who = actor.get("display", "")
    prefix, _, rest = (
        who.partition(" ") if who.startswith(("Dr.", "Mr", "Ms", "Mrs")) else ("", "", who)
    )
    parts = rest.split(" ")
    doctor = (
        f"^{w.text(parts[-1])}^{w.text(parts[0])}^{w.text(' '.join(parts[1:-1]))}^^{w.text(prefix)}"
        if len(parts) > 1 else ""
    )  # fmt: skip
    fields = [""] * 46
    fields[0], fields[1] = "PV1", "1"
    fields[2] = CLASS_OF_ACT.get(act_code, "I")
    fields[3] = POINT_OF_CARE.get(type_text, w.text(type_text))
    fields[7] = doctor
    fields[19] = w.text(encounter["id"])
    fields[39] = w.text((encounter.get("serviceProvider") or {}).get("display", ""))
    fields[44] = w.time(period["start"]) if "start" in period else ""
    if discharged and "end" in period:
        fields[45] = w.time(period["end"])
    return "|".join(fields).rstrip("|")


def adt_message(
    w: Writer, event: str, patient: dict[str, Any], encounter: dict[str, Any], control_id: str,
    at: str,
) -> str:  # fmt: skip
    segments = [w.msh(f"ADT^{event}", control_id, at), f"EVN|{event}|{w.time(at)}",
                pid_segment(w, patient)]  # fmt: skip
    org = (patient.get("managingOrganization") or {}).get("display")
    if org:
        segments.append(f"PD1|||{w.text(org)}")
    segments.extend(nk1_segments(w, patient))
    segments.append(pv1_segment(w, encounter, discharged=event == "A03"))
    if "ZPV" in w.profile.z_segments:
        segments.append(f"ZPV|1|{w.text(w.profile.sending_facility)}|BED-{control_id[-3:] or 'X'}")
    return "\r".join(segments) + "\r"


def _obx_code(w: Writer, codes: tuple[str, ...]) -> tuple[str, str, UnitConversion | None]:
    """(OBX-3, the vendor's unit or "", that code's own unit conversion) for an observation
    known by ``codes`` (the first the dialect remaps, else the first code as it is)."""
    for code in codes:
        local, text, unit = w.profile.local_code(code)
        if local != code or text:
            system = "L" if local != code else "LN"
            entry = w.profile.observations.get(local)
            conversion = entry.conversion if entry is not None and entry.unit == unit else None
            return f"{w.text(local)}^{w.text(text)}^{system}", unit, conversion
    code = codes[0]
    return f"{code}^^{'SCT' if code == v.ACVPU else 'LN'}", "", None


def _obx_value(
    w: Writer,
    value: int | float,
    ucum: str,
    local_unit: str,
    own: UnitConversion | None = None,
) -> tuple[str, str]:
    """OBX-5 and OBX-6: the value in the vendor's unit (the code's own conversion, e.g.
    creatinine and bilirubin in umol/L, else the unit's), else as it is in UCUM."""
    conversion = own or (w.profile.units.get(local_unit) if local_unit else None)
    if conversion is None or (conversion.factor == 1 and conversion.offset == 0):
        return str(value), w.text(local_unit or ucum)
    converted = conversion.from_ucum(float(value))
    return f"{converted:.{conversion.emit_decimals}f}", w.text(local_unit)


def oru_message(
    w: Writer,
    patient: dict[str, Any],
    encounter_id: str,
    stem: str,
    observations: list[dict[str, Any]],
    control_id: str,
) -> str:
    at = observations[0]["effectiveDateTime"]
    when = w.time(at)
    pv1 = "|".join(["PV1", "1", "I", *[""] * 16, w.text(encounter_id)])
    laboratory = _is_laboratory(observations[0])
    panel = LAB_SET if laboratory else VITALS_PANEL
    segments = [w.msh("ORU^R01", control_id, at), pid_segment(w, patient), pv1,
                f"OBR|1||{w.text(stem)}|{panel}|||{when}"]  # fmt: skip
    for z in w.profile.z_segments:
        if z == "ZLR" and laboratory:
            segments.append(f"ZLR|1|ANALYZER-{len(stem) % 7 + 1}")
        elif z in ("ZMD", "ZOB") and not laboratory:
            segments.append(f"{z}|1|MONITOR^{w.text(w.profile.sending_facility)}|v4.2")
    number = 0

    def obx(value_type: str, code_text: str, value: str, unit: str) -> None:
        nonlocal number
        number += 1
        segments.append(f"OBX|{number}|{value_type}|{code_text}||{value}|{unit}|||||F|||{when}")

    for resource in observations:
        codes = tuple(c["code"] for c in resource["code"]["coding"])
        if codes[0] == v.BP_PANEL:
            for component in resource["component"]:
                code_text, unit, own = _obx_code(w, (component["code"]["coding"][0]["code"],))
                quantity = component["valueQuantity"]
                obx("NM", code_text,
                    *_obx_value(w, quantity["value"], quantity["code"], unit, own))  # fmt: skip
        elif "valueCodeableConcept" in resource:
            concept = resource["valueCodeableConcept"]
            coding = concept["coding"][0]
            code_text, _, _ = _obx_code(w, codes)
            value = (f"{coding['code']}^{w.text(coding.get('display', ''))}^SCT^^^^^^"
                     f"{w.text(concept.get('text', ''))}")  # fmt: skip
            obx("CWE", code_text, value, "")
        else:
            vital = v.VITAL_BY_CODE.get(codes[0])
            ordered = (vital.v2_code, *codes) if vital is not None else codes
            code_text, unit, own = _obx_code(w, ordered)
            quantity = resource["valueQuantity"]
            obx("NM", code_text,
                *_obx_value(w, quantity["value"], quantity["code"], unit, own))  # fmt: skip
    return "\r".join(segments) + "\r"


def _is_laboratory(resource: dict[str, Any]) -> bool:
    return any(
        coding.get("code") == "laboratory"
        for category in resource.get("category", [])
        for coding in category.get("coding", [])
    )


def registration_message(
    w: Writer, patient: dict[str, Any], control_id: str, at: str
) -> tuple[str, str]:
    """(message type, text) for a Patient sent alone: ADT^A40 when it replaces another
    record (MRG-1 the prior MRN and id), else ADT^A28 (add person information)."""
    link = next((k for k in patient.get("link", []) if k.get("type") == "replaces"), None)
    event = "A40" if link is not None else "A28"
    segments = [w.msh(f"ADT^{event}", control_id, at), f"EVN|{event}|{w.time(at)}",
                pid_segment(w, patient)]  # fmt: skip
    if link is not None:
        p = w.profile
        other = link["other"]
        prior_mrn = other["identifier"]["value"]
        prior_id = other["reference"].removeprefix("Patient/")
        segments.append(f"MRG|{w.text(prior_mrn)}^^^{p.mrn_authority}^{p.mrn_type}~"
                        f"{w.text(prior_id)}^^^{p.mrn_authority}^PI")  # fmt: skip
    return f"ADT^{event}", "\r".join(segments) + "\r"


# ---------------------------------------------------------------------------- the cohort


@dataclass(slots=True)
class FeedStats:
    messages: Counter[str] = field(default_factory=Counter)  # by message type
    skipped: Counter[str] = field(default_factory=Counter)  # stream items with no v2 form
    missing_control_ids: int = 0
    resent: int = 0  # messages sent a second time (same bytes: a sender without its ACK)
    late: int = 0  # ORU^R01 delivered after later messages (store-and-forward)


def cohort_messages(
    options: StreamOptions, profile: VendorProfile, stats: FeedStats | None = None
) -> Iterator[tuple[datetime, str]]:
    """(event time, message text) of the cohort, in clinical-time order except where the
    dialect delivers some late or twice (``late_every``, ``resend_every``)."""
    stats = stats if stats is not None else FeedStats()
    return _delivered(_in_order(options, profile, stats), profile, stats)


def _delivered(
    messages: Iterator[tuple[datetime, str]], profile: VendorProfile, stats: FeedStats
) -> Iterator[tuple[datetime, str]]:
    """The dialect's delivery quirks: every ``late_every``-th ORU^R01 held back until
    ``late_by`` later messages went out; every ``resend_every``-th message sent again right
    after the next one (the sender did not see its ACK)."""
    held: list[tuple[int, tuple[datetime, str]]] = []  # (release after this count, message)
    resend: tuple[datetime, str] | None = None
    count = orus = 0
    for item in messages:
        is_oru = "|ORU^R01^" in item[1].split("\r", 1)[0]
        orus += is_oru
        if is_oru and profile.late_every and orus % profile.late_every == 0:
            held.append((count + profile.late_by, item))
            stats.late += 1
            continue
        count += 1
        yield item
        if resend is not None:
            yield resend
            resend = None
        if profile.resend_every and count % profile.resend_every == 0:
            resend = item
            stats.resent += 1
        while held and held[0][0] <= count:
            yield held.pop(0)[1]
    if resend is not None:
        yield resend
    for _, item in held:
        yield item


def _in_order(
    options: StreamOptions, profile: VendorProfile, stats: FeedStats
) -> Iterator[tuple[datetime, str]]:
    w = Writer(profile)
    patients: dict[str, dict[str, Any]] = {}
    discharges: list[tuple[datetime, int, str, str]] = []  # (time, order, patient id, enc id)
    encounters: dict[str, dict[str, Any]] = {}
    counter = 0

    def control_id() -> str:
        nonlocal counter
        counter += 1
        every = profile.missing_control_id_every
        if every and counter % every == 0:
            stats.missing_control_ids += 1
            return ""
        return f"CF{counter:09d}"

    def due(until: datetime | None) -> Iterator[tuple[datetime, str]]:
        while discharges and (until is None or discharges[0][0] <= until):
            at, _, patient_id, encounter_id = heapq.heappop(discharges)
            encounter = encounters.pop(encounter_id)
            period = encounter.get("period") or encounter.get("actualPeriod") or {}
            stats.messages["ADT^A03"] += 1
            yield at, adt_message(w, "A03", patients[patient_id], encounter, control_id(),
                                  period["end"])  # fmt: skip

    for timed in generate_stream(options):
        envelope = timed.envelope
        if envelope.source is not SourceKind.FHIR:
            stats.skipped[envelope.source.value] += 1
            continue
        document = orjson.loads(envelope.payload)
        resources = [e["resource"] for e in document.get("entry", [])] if (
            document.get("resourceType") == "Bundle") else [document]  # fmt: skip
        kinds = {r["resourceType"] for r in resources}
        yield from due(envelope.event_time)
        if "Patient" in kinds and "Encounter" in kinds:
            patient = next(r for r in resources if r["resourceType"] == "Patient")
            encounter = next(r for r in resources if r["resourceType"] == "Encounter")
            patients[patient["id"]] = patient
            encounters[encounter["id"]] = encounter
            period = encounter.get("period") or encounter.get("actualPeriod") or {}
            stats.messages["ADT^A01"] += 1
            yield envelope.event_time, adt_message(w, "A01", patient, encounter, control_id(),
                                                   period["start"])  # fmt: skip
            if "end" in period:
                end = datetime.fromisoformat(period["end"].replace("Z", "+00:00"))
                heapq.heappush(discharges, (end, counter, patient["id"], encounter["id"]))
        elif kinds == {"Observation"} and document.get("resourceType") == "Bundle":
            first = resources[0]
            patient_id = first["subject"]["reference"].removeprefix("Patient/")
            encounter_id = first.get("encounter", {}).get("reference", "").removeprefix(
                "Encounter/")  # fmt: skip
            stem = first["id"].rsplit("-", 1)[0]
            stats.messages["ORU^R01"] += 1
            yield envelope.event_time, oru_message(w, patients[patient_id], encounter_id, stem,
                                                   resources, control_id())  # fmt: skip
        elif kinds == {"Patient"} and len(resources) == 1:  # a registration or a merge
            message_type, text = registration_message(w, resources[0], control_id(),
                                                      fhir_time(envelope.event_time))  # fmt: skip
            stats.messages[message_type] += 1
            yield envelope.event_time, text
        else:
            for kind in sorted(kinds):
                stats.skipped[kind] += 1
    yield from due(None)


def fhir_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
