"""HL7 v2 acknowledgements (original mode): ``ACK`` with ``MSA`` AA, AE or AR.

AA: the message was taken (durably: see ``clinflow.ehr.hl7.mllp``). AE: an error in its
content (a field malformed or missing); AR: not a message we take (no MSH, bad delimiters,
unsupported type or version, too large). A NAK's MSA-3 and ERR-8 carry the reason and ERR-2
the segment and field (``OBX^3^5``), never a value from the message.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from clinflow.ehr.hl7.parser import Message, escape

_LOCATION = re.compile(r"^([A-Z][A-Z0-9]{2})(?:\[(\d+)\])?(?:-(\d+))?$")
RECEIVER = "CLINFLOW"


def _safe(text: str, limit: int = 60) -> str:
    """A header value echoed back (MSH-3/4/10 of the sender): printable, bounded, escaped."""
    cleaned = "".join(c for c in text if c.isprintable())[:limit]
    return escape(cleaned)


def _error_code(location: str, code: str) -> str:
    if location.startswith("MSH-9"):
        return "200^Unsupported message type^HL70357"
    if location.startswith("MSH-12"):
        return "203^Unsupported version id^HL70357"
    if code == "AR":
        return "207^Application internal error^HL70357"
    return "102^Data type error^HL70357"


def lenient_header(data: bytes) -> tuple[str, str, str, str, str]:
    """(MSH-3, MSH-4, MSH-9.2, MSH-10, MSH-12) read without the parser (for a NAK of a
    message the parser refused); empty strings where they cannot be found."""
    head = data[:2048].split(b"\r", 1)[0].split(b"\n", 1)[0].decode("latin-1")
    if not head.startswith("MSH") or len(head) < 4:
        return "", "", "", "", ""
    fields = head.split(head[3])
    component = fields[1][:1] if len(fields) > 1 and fields[1] else "^"

    def at(index: int) -> str:
        return fields[index] if index < len(fields) else ""

    msh9 = at(8).split(component)
    event = msh9[1] if len(msh9) > 1 else ""
    return at(2), at(3), event, at(9), at(11)


def build_ack(
    code: str,
    *,
    sender: tuple[str, str] = ("", ""),
    event: str = "",
    control_id: str = "",
    version: str = "2.5.1",
    reason: str = "",
    location: str = "",
    ack_id: str = "",
    now: datetime | None = None,
) -> bytes:
    """One ACK message (segments ended by CR), not yet MLLP-framed."""
    moment = (now or datetime.now(UTC)).strftime("%Y%m%d%H%M%S") + "+0000"
    event_part = f"^{_safe(event, 3)}" if event else ""
    msh = (
        f"MSH|^~\\&|{RECEIVER}|{RECEIVER}|{_safe(sender[0])}|{_safe(sender[1])}|{moment}||"
        f"ACK{event_part}^ACK|{_safe(ack_id, 20)}|P|{_safe(version, 8) or '2.5.1'}"
    )
    segments = [
        msh,
        f"MSA|{code}|{_safe(control_id)}" + (f"|{_safe(reason, 200)}" if reason else ""),
    ]
    if code != "AA":
        match = _LOCATION.match(location.split(" ")[-1])
        erl = ""
        if match is not None:
            name, occurrence, field = match.groups()
            erl = "^".join(part for part in (name, occurrence or "1", field or "") if part)
        detail = f"{reason} ({location})" if location else reason
        segments.append(f"ERR||{erl}|{_error_code(location, code)}|E||||{_safe(detail, 200)}")
    return ("\r".join(segments) + "\r").encode()


def ack_for(
    message: Message, code: str, ack_id: str, reason: str = "", location: str = ""
) -> bytes:
    msh = message.msh
    return build_ack(
        code,
        sender=(msh.value(3), msh.value(4)),
        event=msh.value(9, 2),
        control_id=msh.value(10),
        version=msh.value(12),
        reason=reason,
        location=location,
        ack_id=ack_id,
    )
