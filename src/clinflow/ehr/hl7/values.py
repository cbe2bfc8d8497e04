"""Typed values of HL7 v2 fields: DTM timestamps as FHIR dateTime, NM numbers."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache

from clinflow.ehr.hl7.parser import HL7Error

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_INTEGER = re.compile(r"^[+-]?\d+$")
_DTM = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\.\d{1,4})?([+-]\d{4})?$")


# ---------------------------------------------------------------------------- small readers


def hl7_time(text: str, tz: timezone, where: str) -> str:
    """An HL7 DTM as FHIR dateTime in UTC (``2024-03-01T08:00:00Z``); date-only stays a date.
    A timestamp without an offset is read in the profile's zone ``tz``."""
    converted = fhir_time(text, tz)
    if converted is None:
        raise HL7Error("not a valid HL7 date/time (YYYYMMDD[HHMM[SS]][+ZZZZ])", where)
    return converted


@lru_cache(maxsize=8192)  # a message's OBX share a time; monitors chart on a grid
def fhir_time(text: str, tz: timezone) -> str | None:
    """``hl7_time`` without the error: None when ``text`` is not a valid DTM (hot paths
    build the error's location only when there is one)."""
    match = _DTM.match(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, _fraction, offset = match.groups()
    try:
        if hour is None:
            if month is None or day is None:
                return year if month is None else f"{year}-{month}"
            return datetime(int(year), int(month), int(day)).date().isoformat()
        zone = tz
        if offset:
            sign = -1 if offset[0] == "-" else 1
            zone = timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5])))
        moment = datetime(int(year), int(month or 1), int(day or 1), int(hour),
                          int(minute or 0), int(second or 0), tzinfo=zone)  # fmt: skip
    except ValueError:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def hl7_number(text: str, where: str) -> int | float:
    if text.isdigit() and text.isascii():  # the common case: a whole number
        return int(text)
    if not _NUMBER.match(text):
        raise HL7Error("numeric value expected", where)
    return int(text) if _INTEGER.match(text) else float(text)
