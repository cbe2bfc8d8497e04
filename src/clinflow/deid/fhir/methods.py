"""De-identification methods for FHIR elements: small named classes, one per policy method.

Each method validates its ``params`` when the policy loads (``ValueError`` → ``PolicyError``
naming the rule) and ``operate(value, ctx)`` maps one primitive value to its replacement, or
returns ``REDACT`` to drop the element. Complex elements are never passed: the engine hands
a method's decision down to the primitives inside (as the Microsoft FHIR anonymizer does).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any, ClassVar, Protocol, cast

from clinflow.deid.pseudonym import Pseudonymizer
from clinflow.deid.surrogates import NamePart, surrogate_name


class _Redact:
    def __repr__(self) -> str:
        return "REDACT"


REDACT: Any = _Redact()

# Safe Harbor guidance (HHS, 2012): 3-digit zip prefixes with <= 20,000 people become 000.
LOW_POPULATION_ZIP3 = frozenset(
    "036 059 063 102 203 556 692 790 821 823 830 831 878 879 884 890 893".split()
)

_FHIR_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?(.*)$", re.S)


class ElementContext(Protocol):
    """What a method may know about the element it rewrites (provided by the engine)."""

    pseudonymizer: Pseudonymizer
    patient_key: str | None  # MRN of the patient this resource belongs to
    resource_type: str
    path: str  # element path without indexes, e.g. "Patient.address.postalCode"

    def map_id(self, resource_type: str, resource_id: str) -> str: ...

    def map_reference(self, reference: str) -> str: ...

    def map_full_url(self, full_url: str) -> str: ...

    def seal(self, plaintext: bytes, aad: bytes) -> bytes | None: ...

    def clean_text(self, text: str) -> str: ...

    @property
    def as_of(self) -> date: ...


def shift_fhir_date(value: str, offset_days: int) -> str:
    """Shift a FHIR date/dateTime/instant string by whole days, keeping precision and time."""
    match = _FHIR_DATE.match(value)
    if not match:
        raise ValueError("not a FHIR date")
    year, month, day, rest = match.groups()
    if month is None:  # year only: shift the mid-year day, keep year precision
        return str((date(int(year), 7, 2) + timedelta(days=offset_days)).year)
    if day is None:
        shifted = date(int(year), int(month), 15) + timedelta(days=offset_days)
        return f"{shifted.year:04d}-{shifted.month:02d}"
    shifted = date(int(year), int(month), int(day)) + timedelta(days=offset_days)
    return shifted.isoformat() + rest


class Method:
    """Base: ``name`` is the policy spelling; subclasses check params in ``validate``."""

    name: ClassVar[str]
    allowed_params: ClassVar[frozenset[str]] = frozenset()
    children_selected = False  # keep(children: selected): each child needs its own rule
    keeps = False  # class flags read on the hot path (no property call per element)
    redacts = False

    def __init__(self, params: dict[str, Any]) -> None:
        unknown = set(params) - self.allowed_params
        if unknown:
            raise ValueError(f"method {self.name} takes no parameter {sorted(unknown)[0]!r}")
        self.params = params
        self.validate(params)

    def validate(self, params: dict[str, Any]) -> None:
        """Raise ValueError when params are wrong."""

    def operate(self, value: Any, ctx: ElementContext) -> Any:
        raise NotImplementedError



class Keep(Method):
    """Keep the value. On a complex element, ``children: selected`` keeps it only as a
    container: each child then needs its own rule (allow-list inside the element)."""

    name = "keep"
    keeps = True
    allowed_params = frozenset({"children"})

    def validate(self, params: dict[str, Any]) -> None:
        if params.get("children", "all") not in ("all", "selected"):
            raise ValueError("keep children must be all | selected")
        self.children_selected = params.get("children") == "selected"

    def operate(self, value: Any, ctx: ElementContext) -> Any:
        return value



class Redact(Method):
    name = "redact"
    redacts = True

    def operate(self, value: Any, ctx: ElementContext) -> Any:
        return REDACT


class CryptoHash(Method):
    """HMAC-SHA256 under the project key; ``as`` picks the shape of the output."""

    name = "cryptoHash"
    allowed_params = frozenset({"as", "length"})
    SHAPES = ("hex", "id", "reference", "fullUrl", "uid")

    def validate(self, params: dict[str, Any]) -> None:
        if params.get("as", "hex") not in self.SHAPES:
            raise ValueError(f"cryptoHash as must be one of {', '.join(self.SHAPES)}")
        length = params.get("length", 32)
        if not isinstance(length, int) or not 8 <= length <= 64:
            raise ValueError("cryptoHash length must be an integer 8..64")

    def operate(self, value: Any, ctx: ElementContext) -> Any:
        if not isinstance(value, str):
            return REDACT
        shape = self.params.get("as", "hex")
        if shape == "id":
            return ctx.map_id(ctx.resource_type, value)
        if shape == "reference":
            return ctx.map_reference(value)
        if shape == "fullUrl":
            return ctx.map_full_url(value)
        if shape == "uid":
            if not re.fullmatch(r"(?:urn:oid:)?[0-9]+(?:\.[0-9]+)+", value):
                return ctx.pseudonymizer.token("fhir-hash", value, 32)  # e.g. accession
            prefix = "urn:oid:" if value.startswith("urn:oid:") else ""
            return prefix + ctx.pseudonymizer.uid(value.removeprefix("urn:oid:"))
        return ctx.pseudonymizer.token("fhir-hash", value, int(self.params.get("length", 32)))


class Encrypt(Method):
    """AES-GCM under the patient's data key (``clinflow.crypto.datakeys``), so destroying
    that key crypto-shreds the value; output ``enc:v1:<base64 sealed token>``."""

    name = "encrypt"

    def operate(self, value: Any, ctx: ElementContext) -> Any:
        if not isinstance(value, str):
            return REDACT
        sealed = ctx.seal(value.encode("utf-8"), ctx.path.encode())
        if sealed is None:
            return REDACT  # no patient or no key store: removing is the safe choice
        return "enc:v1:" + base64.b64encode(sealed).decode("ascii")


class DateShift(Method):
    """The patient's keyed offset (``Pseudonymizer.date_offset_days``), shared with DICOM."""

    name = "dateShift"

    def operate(self, value: Any, ctx: ElementContext) -> Any:
        if not isinstance(value, str) or ctx.patient_key is None:
            return REDACT
        try:
            return shift_fhir_date(value, ctx.pseudonymizer.date_offset_days(ctx.patient_key))
        except ValueError:
            return REDACT


class Generalize(Method):
    """``to: year`` (dates; with ``age_cap`` ages above it fold into one year, Safe Harbor
    "90+"), ``to: zip3`` (3-digit zip, ``000`` for low-population prefixes), ``to: age``
    (numbers above ``age_cap`` become ``age_cap + 1``)."""

    name = "generalize"
    allowed_params = frozenset({"to", "age_cap"})

    def validate(self, params: dict[str, Any]) -> None:
        if params.get("to") not in ("year", "zip3", "age"):
            raise ValueError("generalize needs to: year | zip3 | age")
        cap = params.get("age_cap", 89)
        if not isinstance(cap, int) or cap < 1:
            raise ValueError("generalize age_cap must be a positive integer")

    def operate(self, value: Any, ctx: ElementContext) -> Any:
        target = self.params["to"]
        cap = int(self.params.get("age_cap", 89))
        if target == "zip3":
            if not isinstance(value, str):
                return REDACT
            digits = re.sub(r"\D", "", value)
            if len(digits) < 3:
                return REDACT
            prefix = digits[:3]
            return "000" if prefix in LOW_POPULATION_ZIP3 else prefix
        if target == "age":
            if isinstance(value, bool) or not isinstance(value, int | float):
                return REDACT
            return cap + 1 if value > cap else value
        if not isinstance(value, str) or not _FHIR_DATE.match(value):
            return REDACT
        year = int(value[:4])
        # Ages over the cap: report the latest birth year that is still cap+1 years old.
        if ctx.as_of.year - year > cap:
            year = ctx.as_of.year - (cap + 1)
        return f"{year:04d}"


class Perturb(Method):
    """Keyed, deterministic noise on numbers: ``relative`` fraction or ``absolute`` span."""

    name = "perturb"
    allowed_params = frozenset({"relative", "absolute", "digits"})

    def validate(self, params: dict[str, Any]) -> None:
        if ("relative" in params) == ("absolute" in params):
            raise ValueError("perturb needs exactly one of relative, absolute")
        span = params.get("relative", params.get("absolute"))
        if not isinstance(span, int | float) or span <= 0:
            raise ValueError("perturb span must be a positive number")

    def operate(self, value: Any, ctx: ElementContext) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return REDACT
        seed = ctx.pseudonymizer.digest("perturb", f"{ctx.patient_key}|{ctx.path}|{value}")
        unit = int.from_bytes(seed[:8], "big") / 2**64 * 2 - 1  # in [-1, 1)
        span = float(self.params.get("relative", 0)) * abs(value) or float(
            self.params.get("absolute", 0)
        )
        if span == 0:
            span = 1.0
        noisy = value + (unit if abs(unit) > 0.1 else 0.1) * span
        if isinstance(value, int):
            result = round(noisy)
            return result if result != value else value + 1
        digits = int(self.params.get("digits", 2))
        result_f = round(noisy, digits)
        return result_f if result_f != value else value + 10**-digits


class Substitute(Method):
    """A fixed ``value``, or a consistent ``surrogate`` (name | given | family) per patient."""

    name = "substitute"
    allowed_params = frozenset({"value", "surrogate"})

    def validate(self, params: dict[str, Any]) -> None:
        if ("value" in params) == ("surrogate" in params):
            raise ValueError("substitute needs exactly one of value, surrogate")
        if "surrogate" in params and params["surrogate"] not in ("name", "given", "family"):
            raise ValueError("substitute surrogate must be name | given | family")

    def operate(self, value: Any, ctx: ElementContext) -> Any:
        if "value" in self.params:
            replacement = self.params["value"]
            return replacement if replacement != value else REDACT
        if not isinstance(value, str):
            return REDACT
        scope = ctx.patient_key or ""
        part = cast(NamePart, self.params["surrogate"])  # checked in validate()
        return surrogate_name(ctx.pseudonymizer, scope, value, part)


class CleanText(Method):
    """Free text through the text de-identifier; ``encoding: base64`` for attachment data."""

    name = "cleanText"
    allowed_params = frozenset({"encoding"})

    def validate(self, params: dict[str, Any]) -> None:
        if params.get("encoding", "text") not in ("text", "base64"):
            raise ValueError("cleanText encoding must be text | base64")

    def operate(self, value: Any, ctx: ElementContext) -> Any:
        if not isinstance(value, str):
            return REDACT
        if self.params.get("encoding") == "base64":
            try:
                text = base64.b64decode(value, validate=True).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                return REDACT  # binary or unreadable: cannot be checked, so it goes
            return base64.b64encode(ctx.clean_text(text).encode("utf-8")).decode("ascii")
        return ctx.clean_text(value)


METHODS: dict[str, type[Method]] = {
    cls.name: cls
    for cls in (
        Keep,
        Redact,
        CryptoHash,
        Encrypt,
        DateShift,
        Generalize,
        Perturb,
        Substitute,
        CleanText,
    )
}


DataSealer = Callable[[str, bytes, bytes], bytes]
"""``(patient_pseudonym, plaintext, aad) -> sealed token``: AES-GCM under the patient's data
key; ``DataKeyStore.seal`` with a scope plugs in here (see ``fhir_cli``)."""
