"""Reading and writing FHIR inputs for de-identification: Bundles and Bulk ndjson, R4/R4B/R5.

Two passes: the first indexes Patients (id → MRN), entry fullUrls and the names a patient's
record mentions; the second de-identifies and writes, mirroring the input tree under OUT.
Anything that cannot be processed goes to the quarantine with a reason naming the file, the
entry or line, and the field; the rest of the file is still written. Validation uses the
fhir.resources R5 model, then R4B; content both reject only for R4-era element names
(R4 as Synthea and EHRs export it) is de-identified by the rules and counted as
"validation skipped"; anything else they reject is quarantined.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson

from clinflow.deid.fhir.engine import FhirDeidentifier
from clinflow.deid.fhir.resource_types import (
    complex_fields,
    element_names,
    model_class,
    primitive_fields,
    primitive_validator,
)
from clinflow.envelope import content_message_id
from clinflow.errors import InputRejected
from clinflow.folders import OnSkip, SkippedPath, files_under
from clinflow.interfaces import AuditSink, QuarantineSink, Rejection, append_all
from clinflow.quarantine import printable_location

Validation = Literal["none", "shallow", "input", "both"]
BUNDLE_TYPES = frozenset(
    {
        "transaction",
        "collection",
        "batch",
        "searchset",
        "document",
        "message",
        "history",
        "transaction-response",
        "batch-response",
    }
)
# pydantic error types that mean "this element has another name or cardinality in R4".
_R4_TOLERATED = frozenset({"extra_forbidden", "missing", "list_type", "model_type", "dict_type"})
STAGE = "deid-fhir"
# R4 resource types dropped or renamed in R4B/R5 (HL7 R4B change log): no model validates them.
R4_ONLY_TYPES = frozenset(
    {
        "EffectEvidenceSynthesis",
        "MedicinalProduct",
        "MedicinalProductAuthorization",
        "MedicinalProductContraindication",
        "MedicinalProductIndication",
        "MedicinalProductIngredient",
        "MedicinalProductInteraction",
        "MedicinalProductManufactured",
        "MedicinalProductPackaged",
        "MedicinalProductPharmaceutical",
        "MedicinalProductUndesirableEffect",
        "RiskEvidenceSynthesis",
        "SubstanceNucleicAcid",
        "SubstancePolymer",
        "SubstanceProtein",
        "SubstanceReferenceInformation",
        "SubstanceSourceMaterial",
        "SubstanceSpecification",
    }
)


@dataclass
class RunReport:
    files: int = 0
    resources_in: int = 0
    resources_out: int = 0
    quarantined: int = 0
    validation_skipped: int = 0
    versions: Counter[str] = field(default_factory=Counter)
    by_type: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)  # "location: reason", never PHI
    patients: set[str] = field(default_factory=set)  # pseudonyms

    @property
    def failed(self) -> bool:
        return self.quarantined > 0

    def merge(self, other: RunReport) -> None:
        """Add ``other``'s counts (a worker process's share of the run) to this report."""
        self.files += other.files
        self.resources_in += other.resources_in
        self.resources_out += other.resources_out
        self.quarantined += other.quarantined
        self.validation_skipped += other.validation_skipped
        self.versions.update(other.versions)
        self.by_type.update(other.by_type)
        self.problems.extend(other.problems)
        self.patients.update(other.patients)

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "resources_in": self.resources_in,
            "resources_out": self.resources_out,
            "quarantined": self.quarantined,
            "validation_skipped": self.validation_skipped,
            "versions": dict(self.versions),
            "by_type": dict(self.by_type),
            "patients": len(self.patients),
        }


class _ValidatedParts:
    """Complex elements already validated, by their exact JSON (ADR 0112), and the shapes of
    resources already accepted (ADR 0118).

    A stream repeats most of a resource's complex elements verbatim: every heart-rate
    Observation has the same ``code`` and ``category``, every one of a patient's the same
    ``subject``. pydantic does not validate again a model instance handed to a field of its
    type, and an element's validity does not depend on where it stands (fhir.resources has
    no cross-element checks below the resource: tests/deid_fhir/test_validation_cache.py
    checks acceptance and errors against the plain model on generated and mutated
    resources), so the resource is validated with the repeated elements as their cached
    instances: ~2x cheaper on vital signs. An element that fails alone is not cached; the
    resource is then validated as it came, so errors are the model's own.

    What is left of a resource's validation then depends on its keys, on which complex
    elements became instances (and how many items a list has), and on each primitive
    element's own validity: the model's checks above the fields look at presence only
    (required elements, one of a choice, nulls in lists, extra keys). So a resource whose
    shape (keys; each complex element an instance or its exact JSON; each single-valued
    primitive "valid alone" by its field's own validator, else its exact JSON) was accepted
    before is accepted without building the model again (~60 us per resource of fixed cost
    in fhir_core's Python validators). Rejections are never cached: the model says why."""

    LIMIT = 16_384  # cached elements (then the cache starts again: bounded memory)
    _VALID = "\x00valid-primitive"  # a shape token no JSON value encodes to (bytes else)

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str, str, bytes], Any] = {}
        self._primitives: dict[tuple[str, str, str, type, Any], bool] = {}
        self._accepted: set[tuple[Any, ...]] = set()

    def substituted(
        self, version: str, resource: dict[str, Any]
    ) -> tuple[dict[str, Any], tuple[Any, ...] | None]:
        """The resource with its cached complex elements as instances, and its shape (None
        when it has none: a key that is a Python field name fills the field of another)."""
        resource_type = str(resource.get("resourceType"))
        fields = complex_fields(resource_type, version)
        primitives, renamed = primitive_fields(resource_type, version)
        out: dict[str, Any] | None = None
        cache = self._cache
        shape: list[Any] | None = [version, resource_type]
        for name, value in resource.items():
            spec = fields.get(name)
            if spec is None or not isinstance(value, dict | list) or not value:
                if shape is not None:
                    if name in renamed:
                        shape = None
                    elif name in primitives and self._valid(version, resource_type, name, value):
                        shape += (name, self._VALID)
                    else:
                        shape += (name, _exact(value))
                continue
            dumped = orjson.dumps(value)
            key = (version, resource_type, name, dumped)
            instance = cache.get(key)
            if instance is None:
                instance = self._validate(spec, value)
                if instance is None:
                    if shape is not None:
                        shape += (name, dumped)
                    continue
                if len(cache) >= self.LIMIT:
                    cache.clear()
                cache[key] = instance
            if out is None:
                out = dict(resource)
            out[name] = instance
            if shape is not None:
                shape += (name, len(value) if isinstance(value, list) else -1)
        return (resource if out is None else out), (None if shape is None else tuple(shape))

    def _valid(self, version: str, resource_type: str, name: str, value: Any) -> bool:
        """Whether a primitive element's value passes its field's own validator."""
        if value is None or isinstance(value, dict | list):
            return False  # presence, or not a primitive: part of the shape as it is
        key = (version, resource_type, name, type(value), value)
        known = self._primitives.get(key)
        if known is None:
            try:
                primitive_validator(resource_type, version, name).validate_python(value)
                known = True
            except Exception:  # noqa: BLE001 - invalid: the shape keeps the value itself
                known = False
            if len(self._primitives) >= self.LIMIT:
                self._primitives.clear()
            self._primitives[key] = known
        return known

    def accepted(self, shape: tuple[Any, ...] | None) -> bool:
        return shape is not None and shape in self._accepted

    def accept(self, shape: tuple[Any, ...] | None) -> None:
        if shape is None:
            return
        if len(self._accepted) >= self.LIMIT:
            self._accepted.clear()
        self._accepted.add(shape)

    @staticmethod
    def _validate(spec: tuple[Any, bool], value: Any) -> Any:
        cls, is_list = spec
        try:
            if is_list:
                if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                    return None
                return [cls.model_validate(item) for item in value]
            return cls.model_validate(value) if isinstance(value, dict) else None
        except Exception:  # noqa: BLE001 - invalid alone: the whole resource says why
            return None


def _exact(value: Any) -> Any:
    """A value as a shape token: its JSON (types told apart: 1, 1.0, true), else itself."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return ("\x00unserialisable", id(value))  # never equal to another resource's


_PARTS = _ValidatedParts()


def _errors(version: str, resource: dict[str, Any]) -> list[dict[str, Any]] | None:
    """None when the model accepts the resource, else pydantic's error list."""
    from pydantic import ValidationError

    model = model_class(str(resource.get("resourceType")), version)
    if model is None:
        return [{"type": "unknown_resource_type", "loc": ("resourceType",)}]
    substituted, shape = _PARTS.substituted(version, resource)
    if _PARTS.accepted(shape):
        return None
    try:
        model.model_validate(substituted)
        _PARTS.accept(shape)
        return None
    except Exception:  # noqa: BLE001, S110 - validated again as it came: the model's own errors
        pass
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        return list(exc.errors())  # type: ignore[arg-type]
    except (ValueError, TypeError, AttributeError, KeyError, IndexError) as exc:
        # fhir.resources' own validators raise what they hit on values of the wrong JSON type
        # (issue 13: AttributeError from a str check given a bool, KeyError for a contained
        # resource of an unknown type): a rejection too
        return [{"type": type(exc).__name__, "loc": ()}]
    return None


def validate_resource(resource: dict[str, Any], where: str) -> str:
    """``R5``, ``R4B`` or ``R4 (validation skipped)``; raises ``InputRejected`` naming the field."""
    r5 = _errors("R5", resource)
    if r5 is None:
        return "R5"
    r4b = _errors("R4B", resource)
    if r4b is None:
        return "R4B"
    if all(error.get("type") in _R4_TOLERATED for error in r4b):
        return "R4"
    if resource.get("resourceType") in R4_ONLY_TYPES:
        return "R4"  # an R4 resource type that R4B/R5 replaced: no model to check it with
    worst = next(e for e in r4b if e.get("type") not in _R4_TOLERATED)
    loc = ".".join(str(p) for p in worst.get("loc", ()) if not isinstance(p, int)) or "resource"
    raise InputRejected(f"fhir.resources rejects field {loc} ({worst.get('type')})", where)


_FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_ALWAYS = frozenset({"resourceType", "id", "meta", "implicitRules", "language", "text",
                     "contained", "extension", "modifierExtension"})  # fmt: skip


def validate_shallow(resource: dict[str, Any], where: str) -> str:
    """The cheap mode: a known resource type, a valid id, and only element names the type
    defines (R4B or R5) at the top level — what catches a mislabelled or hand-edited export
    and an element smuggled in beside the real ones, at a small fraction of the cost of
    building the fhir.resources model (benchmarks/runtime.py measures both). Nested
    structure and data types are not checked; the de-identifier is an allow-list anyway."""
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str) or (
        model_class(resource_type) is None and resource_type not in R4_ONLY_TYPES
    ):
        raise InputRejected("unknown resourceType", where)
    rid = resource.get("id")
    if rid is not None and (not isinstance(rid, str) or not _FHIR_ID.match(rid)):
        raise InputRejected("id is not a FHIR id", f"{where}{resource_type}.id")
    known = element_names(resource_type)
    if known:
        for key in resource:
            name = key[1:] if key.startswith("_") else key
            if name not in known and name not in _ALWAYS:
                raise InputRejected(
                    "element not defined for this resource type", f"{where}{resource_type}.?"
                )
    return "R5"


def validate_output(resource: dict[str, Any], version: str, where: str) -> None:
    if version == "R4":
        return
    errors = _errors(version, resource)
    if errors:
        loc = ".".join(str(p) for p in errors[0].get("loc", ()) if not isinstance(p, int))
        raise InputRejected(f"de-identified resource fails {version} validation at {loc}", where)


def input_files(root: Path, on_skip: OnSkip | None = None) -> list[Path]:
    """The FHIR files of ``root`` (itself when a file); ``on_skip`` hears of every path that
    is not a readable file (symlink loop, dangling link...; ``clinflow.folders``)."""
    if root.is_file():
        return [root]
    found = files_under(root, on_skip or (lambda _: None), hidden=True)
    return [p for p in found if p.suffix in (".json", ".ndjson")]


def _label_of(path: Path) -> str:
    """A file's name as reports, errors and the quarantine show it (printable, no PHI)."""
    return printable_location(path.name)


def _label(resource: Any) -> str:
    if isinstance(resource, dict) and isinstance(resource.get("resourceType"), str):
        return str(resource["resourceType"])
    return "resource"


def _iter_ndjson(path: Path) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield number, line


def parse_document(raw: bytes, label: str) -> dict[str, Any]:
    """A FHIR JSON document (resource or Bundle) or ``InputRejected`` naming ``label``."""
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InputRejected(f"invalid JSON ({exc.msg})", label) from exc
    if not isinstance(document, dict):
        raise InputRejected("not a FHIR resource (JSON object expected)", label)
    return document


def _document_resources(document: dict[str, Any]) -> Iterator[tuple[dict[str, Any], str | None]]:
    """(resource, fullUrl) of a resource, each entry of a Bundle, or a lone Bundle entry."""
    if document.get("resourceType") == "Bundle":
        for entry in document.get("entry") or ():
            if isinstance(entry, dict) and isinstance(entry.get("resource"), dict):
                full_url = entry.get("fullUrl")
                yield entry["resource"], full_url if isinstance(full_url, str) else None
    elif "resourceType" not in document and isinstance(document.get("resource"), dict):
        full_url = document.get("fullUrl")
        yield document["resource"], full_url if isinstance(full_url, str) else None
    else:
        yield document, None


@dataclass(eq=False, repr=False)  # a runner with a running report: compared by identity
class FhirDeidRunner:
    """Runs the engine over a file or folder, quarantining what cannot be processed."""

    engine: FhirDeidentifier
    quarantine: QuarantineSink | None = None
    audit: AuditSink | None = None
    validation: Validation = "input"
    report: RunReport = field(default_factory=RunReport, init=False)

    # ----- pass 1 ------------------------------------------------------------------------
    def index(self, files: list[Path]) -> None:
        self.engine.index.add_all(pair for path in files for pair in self._scan(path))

    def _scan(self, path: Path) -> Iterator[tuple[dict[str, Any], str | None]]:
        if path.suffix == ".ndjson":
            for _, line in _iter_ndjson(path):
                try:
                    resource = orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue
                if isinstance(resource, dict):
                    yield resource, None
            return
        try:
            document = orjson.loads(path.read_bytes())
        except (orjson.JSONDecodeError, OSError):
            return
        if isinstance(document, dict):
            yield from _document_resources(document)

    def patient_of_payload(self, raw: bytes) -> str | None:
        """The pseudonym of the one patient a quarantined payload (a resource, Bundle, Bundle
        entry or ndjson line) belongs to; None when it names none, several, or is unreadable.
        Lets the quarantine link an item to its patient so a revocation purges it."""
        try:
            document = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(document, dict):
            return None
        resources = list(_document_resources(document))
        self.engine.index.add_all(resources)
        found = {self._pseudonym_of(resource) for resource, _ in resources}
        found.discard(None)
        return found.pop() if len(found) == 1 else None

    # ----- pass 2 ------------------------------------------------------------------------
    def run(self, source: Path, out: Path) -> RunReport:
        files = input_files(source, self._skipped_path)
        self.index(files)
        base = source if source.is_dir() else source.parent
        for path in files:
            self.report.files += 1
            try:
                target = out / path.relative_to(base)
                target.parent.mkdir(parents=True, exist_ok=True)
                if path.suffix == ".ndjson":
                    self._run_ndjson(path, target)
                else:
                    self._run_json(path, target)
            except OSError as exc:  # unreadable input, unwritable output: this file only
                self._reject_file(path, f"cannot read or write ({exc.strerror or 'I/O error'})")
            except Exception as exc:  # a defect on one input must not stop the batch
                self._reject_file(path, f"internal error ({type(exc).__name__}); file skipped")
        return self.report

    def _reject_file(self, path: Path, reason: str) -> None:
        """Quarantine a whole file the run could not finish (its bytes when still readable)."""
        try:
            payload: bytes | None = path.read_bytes()
        except OSError:
            payload = None
        self._reject(InputRejected(reason, _label_of(path)), payload)

    def _skipped_path(self, skipped: SkippedPath) -> None:
        """A path in the input folder that is not a readable file: an input error, listed."""
        self._reject(InputRejected(skipped.reason, skipped.location), None)

    def _reject(self, exc: InputRejected, payload: bytes | None, resource: Any = None) -> None:
        self.report.quarantined += 1
        self.report.problems.append(str(exc))
        if self.quarantine is not None:
            patient = self._pseudonym_of(resource)
            if patient is None and resource is None and payload is not None:
                patient = self.patient_of_payload(payload)
            self.quarantine.put(Rejection(STAGE, exc.location, exc.reason, payload, patient))

    def _pseudonym_of(self, resource: Any) -> str | None:
        """The patient pseudonym of a rejected resource, so consent revocation can purge it."""
        if not isinstance(resource, dict):
            return None
        try:
            key = self.engine.patient_key_of(resource)
        except InputRejected:
            return None
        return self.engine.pseudonymizer.patient_pseudonym(key) if key else None

    def _one(self, resource: Any, where: str, audit: dict[str, Counter[str]]) -> dict[str, Any]:
        """Validate, de-identify and (optionally) re-validate one resource."""
        if not isinstance(resource, dict):
            raise InputRejected("entry is not a JSON object", where)
        if not isinstance(resource.get("resourceType"), str) or not resource["resourceType"]:
            raise InputRejected("resource has no resourceType", where)
        version = "R5"
        if self.validation == "shallow":
            version = validate_shallow(resource, where)
        elif self.validation != "none":
            version = validate_resource(resource, where)
            if version == "R4":
                self.report.validation_skipped += 1
            self.report.versions[version] += 1
        out, report = self.engine.deidentify_resource(resource, where)
        if self.validation == "both":
            validate_output(out, version, where)
        self.report.resources_in += 1
        self.report.resources_out += 1
        self.report.by_type[report.resource_type] += 1
        if report.pseudonym:
            self.report.patients.add(report.pseudonym)
            counts = audit.setdefault(report.pseudonym, Counter())
            counts.update(report.rules_applied)
        return out

    def _run_ndjson(self, path: Path, target: Path) -> None:
        audit: dict[str, Counter[str]] = {}
        digest = hashlib.sha256()
        written = hashlib.sha256()
        try:
            with target.open("wb") as sink:
                for number, line in _iter_ndjson(path):
                    digest.update(line)
                    where = f"{_label_of(path)}:line {number}"
                    resource: Any = None
                    try:
                        try:
                            resource = orjson.loads(line)
                        except orjson.JSONDecodeError as exc:
                            raise InputRejected(f"invalid JSON ({exc.msg})", where) from exc
                        where = f"{where} {_label(resource)}"
                        out = self._one(resource, where + " ", audit)
                    except InputRejected as exc:
                        self._reject(exc, line, resource)
                        continue
                    data = orjson.dumps(out) + b"\n"
                    sink.write(data)
                    written.update(data)
        finally:  # the lines written so far are audited even if the file cannot be finished
            self.audit_deidentified(digest.hexdigest()[:32], written.hexdigest()[:32], audit)

    def _run_json(self, path: Path, target: Path) -> None:
        raw = path.read_bytes()
        audit: dict[str, Counter[str]] = {}
        label = _label_of(path)
        try:
            out = self.deidentify_document(parse_document(raw, label), label, audit)
        except InputRejected as exc:
            self._reject(exc, raw)
            return
        data = orjson.dumps(out)
        try:
            target.write_bytes(data)
        except OSError:  # disk full ...: no half-written output left behind
            target.unlink(missing_ok=True)
            raise
        self.audit_deidentified(content_message_id(raw), content_message_id(data), audit)

    def deidentify_document(
        self, document: dict[str, Any], label: str, audit: dict[str, Counter[str]]
    ) -> dict[str, Any]:
        """One resource or Bundle (``label`` names it in errors: a file name or message id).

        Entries of a Bundle that cannot be processed are quarantined and left out; a document
        that cannot be processed at all raises ``InputRejected``. ``audit`` collects the
        rules applied per patient pseudonym for ``audit_deidentified``.
        """
        if document.get("resourceType") == "Bundle":
            return self._bundle(document, label, audit)
        return self._one(document, f"{label} {_label(document)} ", audit)

    def _bundle(
        self, bundle: dict[str, Any], label: str, audit: dict[str, Counter[str]]
    ) -> dict[str, Any]:
        if not isinstance(bundle.get("type"), str) or bundle["type"] not in BUNDLE_TYPES:
            raise InputRejected("Bundle.type missing or not a known bundle type", label)
        entries = bundle.get("entry") or []
        if not isinstance(entries, list):
            raise InputRejected("Bundle.entry is not a list", label)
        shell = {k: v for k, v in bundle.items() if k != "entry"}
        out, _ = self.engine.deidentify_resource(shell, f"{label} Bundle ")
        kept = []
        for number, entry in enumerate(entries):
            resource = entry.get("resource") if isinstance(entry, dict) else None
            where = f"{label} Bundle.entry[{number}] {_label(resource)} "
            try:
                if not isinstance(entry, dict):
                    raise InputRejected("entry is not a JSON object", where)
                wrapper = {k: v for k, v in entry.items() if k != "resource"}
                result = self.engine.deidentify_entry(wrapper, where)
                if "resource" in entry:
                    result["resource"] = self._one(entry["resource"], where, audit)
                kept.append(result)
            except InputRejected as exc:
                self._reject(exc, orjson.dumps(entry), resource)
        if kept:
            out["entry"] = kept
        return out

    def audit_deidentified(
        self, input_id: str, output_id: str, audit: dict[str, Counter[str]]
    ) -> None:
        """One de-identification AuditEvent per patient: ``input_id`` in, ``output_id`` out."""
        if self.audit is None or not audit:
            return
        from clinflow.audit import events

        policy = self.engine.policy
        batch = [
            events.deidentification(
                patient=pseudonym,
                message_id=input_id,
                output_message_id=output_id,
                policy_hash=policy.digest,
                method=f"fhir-{policy.name}",
                actions=dict(sorted(counts.items())),
            )
            for pseudonym, counts in sorted(audit.items())
        ]
        append_all(self.audit, batch)  # one group commit per file instead of one per event
