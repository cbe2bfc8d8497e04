"""The FHIR de-identification engine: walks resource dicts applying a compiled policy.

Rules are compiled to a per-(resource type, element path) plan on first sight and cached, so
the hot path is one dict lookup per element; FHIRPath rules run only for the resource types
and paths they can select. Every element the walk meets is decided by the first rule that
selects it, else by its parent's decision, else by the policy's ``unknown`` (redact): an
allow-list. References (``Patient/123``, ``urn:uuid:...``) are rewritten through one mapping
so the same patient gets the same pseudonym everywhere, and dates move by the patient's keyed
offset from ``Pseudonymizer``, the same one the DICOM and text de-identifiers use. A reference
that does not resolve (``#id`` with no such contained resource, a ``urn:uuid:`` no entry has,
a Patient not in the input) or is not a FHIR reference at all (``../../etc/passwd``) raises
``InputRejected`` naming the file, resource and field, never the value (ADR 0090).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clinflow.deid.fhir.compiled import FULL_DATE as _FULL_DATE
from clinflow.deid.fhir.compiled import CompiledWalk
from clinflow.deid.fhir.index import PatientIndex
from clinflow.deid.fhir.methods import REDACT, DataSealer, Method
from clinflow.deid.fhir.policy import Policy, Rule
from clinflow.deid.fhir.resource_types import element_type, is_data_type
from clinflow.deid.pseudonym import Pseudonymizer
from clinflow.errors import InputRejected

if TYPE_CHECKING:
    from clinflow.crypto.datakeys import DataKeyStore

TextCleaner = Callable[[str, str | None], str]
"""``(text, patient_key) -> de-identified text``; see ``clinflow.deid.text.engine``."""

_FUNCTION_CALL = re.compile(r"\.\w+\((?:[^()]|\([^()]*\))*\)")
_PATIENT_KEYS = ("subject", "patient", "beneficiary", "individual")
_TRAILING_REFERENCE = re.compile(r"(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})$")
# A FHIR id ([A-Za-z0-9\-.]{1,64}, FHIR R5 datatypes "id"), but never "." or "..": a path
# segment that walks the tree is no resource id.
_ID = r"(?!\.{1,2}(?:/|$))[A-Za-z0-9\-.]{1,64}"
# Literal references (FHIR R5 references.html#literal): Type/id, optionally versioned, relative
# or under an absolute http(s) base.
_REFERENCE = re.compile(
    rf"^(?:(?P<base>https?://[^\s?#]+?)/)?(?P<type>[A-Z][A-Za-z]+)/(?P<id>{_ID})"
    rf"(?:/_history/{_ID})?$"
)
# Conditional references (transaction bundles): Type?search, relative or absolute.
_CONDITIONAL = re.compile(r"^(?:https?://[^\s?#]+/)?(?P<type>[A-Z][A-Za-z]+)\?\S*$")
_OID = re.compile(r"^urn:oid:[0-2](?:\.(?:0|[1-9][0-9]*))+$")
INVALID_REFERENCE = (
    "invalid reference: not Type/id, an absolute URL ending in Type/id, urn:uuid:, urn:oid:,"
    " #contained or Type?search"
)


@dataclass(slots=True)
class _Plan:
    """Decision data for one element path: the static rule and FHIRPath rules before it."""

    static: Rule | None
    dynamic: tuple[Rule, ...]


@dataclass
class ResourceReport:
    """What happened to one resource (no PHI: pseudonyms, rule names and counts only)."""

    resource_type: str
    pseudonym: str | None
    rules_applied: dict[str, int] = field(default_factory=dict)
    removed: int = 0


class _Context:
    """Per-resource state handed to methods (implements ``ElementContext``)."""

    __slots__ = (
        "engine", "pseudonymizer", "patient_key", "resource_type", "path", "as_of",
        "where", "contained_ids",
    )

    def __init__(
        self,
        engine: FhirDeidentifier,
        resource_type: str,
        patient_key: str | None,
        where: str = "",
        contained_ids: frozenset[str] = frozenset(),
    ):
        self.engine = engine
        self.pseudonymizer = engine.pseudonymizer
        self.patient_key = patient_key
        self.resource_type = resource_type
        self.path = resource_type
        self.as_of = engine.as_of
        self.where = where  # "file.json Bundle.entry[3] Observation ": prefixes error locations
        self.contained_ids = contained_ids  # ids "#id" may point at (the container's contained)

    def map_id(self, resource_type: str, resource_id: str) -> str:
        return self.engine.map_id(resource_type, resource_id)

    def map_reference(self, reference: str) -> str:
        # "#" alone is the container itself; "#id" must name one of its contained resources.
        # Checked here, per resource, because the engine's reference cache is not.
        if reference.startswith("#") and len(reference) > 1:
            if reference[1:] not in self.contained_ids:
                raise InputRejected(
                    "unresolved reference: no contained resource has this id",
                    self.where + self.path,
                )
        return self.engine.map_reference(reference, self.where + self.path)

    def map_full_url(self, full_url: str) -> str:
        return self.engine.map_full_url(full_url, self.where + self.path)

    def seal(self, plaintext: bytes, aad: bytes) -> bytes | None:
        if self.patient_key is None or self.engine.sealer is None:
            return None
        pseudonym = self.pseudonymizer.patient_pseudonym(self.patient_key)
        return self.engine.sealer(pseudonym, plaintext, aad)

    def clean_text(self, text: str) -> str:
        cleaner = self.engine.text_cleaner
        if cleaner is None:
            return "[REDACTED]"
        return cleaner(text, self.patient_key)


class FhirDeidentifier:
    """Applies one policy to resources and bundles, consistently across files."""

    def __init__(
        self,
        policy: Policy,
        pseudonymizer: Pseudonymizer,
        index: PatientIndex | None = None,
        *,
        text_cleaner: TextCleaner | None = None,
        sealer: DataSealer | None = None,
        as_of: date | None = None,
        compiled: bool = True,
    ) -> None:
        """``compiled=False`` walks every element generically (the reference the compiled
        walk is checked against: tests/deid_fhir/test_engine_fast_path.py)."""
        self.policy = policy
        self.pseudonymizer = pseudonymizer
        self.index = index if index is not None else PatientIndex()
        self.text_cleaner = text_cleaner
        self.sealer = sealer
        self.as_of = as_of or datetime.now(UTC).date()
        self._plans: dict[str, _Plan] = {}
        self._reference_cache: dict[str, str] = {}
        self._dynamic_paths: dict[int, str | None] = {
            rule.index: self._fhirpath_target(rule)
            for rule in policy.rules
            if rule.kind == "fhirpath"
        }
        from clinflow.deid.fhir.methods import DateShift, Keep, Redact

        self._unknown: Method = Keep({}) if policy.unknown == "keep" else Redact({})
        self._date_shift: Method = DateShift({})
        self._compiled = CompiledWalk(self) if compiled else None
        self._full_url_cache: dict[tuple[str, str], str] = {}
        self._id_cache: dict[tuple[str, str], str] = {}
        self._rule_index: tuple[dict[str, list[Rule]], dict[str, list[Rule]]] | None = None

    # ----- identifiers and references -------------------------------------------------
    def map_id(self, resource_type: str, resource_id: str) -> str:
        """Pseudonymous logical id: the patient pseudonym for Patients, a keyed token else."""
        if resource_type == "Patient":
            return self.pseudonymizer.patient_pseudonym(self.index.patient_key_for(resource_id))
        # A resource's id, its entry's fullUrl and request.url name it three times: one HMAC.
        key = (resource_type, resource_id)
        mapped = self._id_cache.get(key)
        if mapped is None:
            mapped = self.pseudonymizer.token("fhir-id", f"{resource_type}/{resource_id}", 24)
            if len(self._id_cache) > 200_000:
                self._id_cache.clear()
            self._id_cache[key] = mapped
        return mapped

    def map_reference(self, reference: str, where: str = "") -> str:
        cached = self._reference_cache.get(reference)
        if cached is not None:
            return cached
        mapped = self._map_reference(reference, where)
        if len(self._reference_cache) > 200_000:
            self._reference_cache.clear()
        self._reference_cache[reference] = mapped
        return mapped

    def _map_reference(self, reference: str, where: str) -> str:
        """One reference's pseudonymous form; ``InputRejected`` when it is not a FHIR
        reference or does not resolve (the value itself never goes into the message)."""
        if reference == "#":
            return reference  # the container itself
        if reference.startswith("#"):
            return "#" + self.pseudonymizer.token("contained", reference[1:], 12)
        if re.fullmatch(r"[A-Z][A-Za-z]+", reference):
            return reference  # a bare type, e.g. a transaction entry's POST url
        if reference.startswith("urn:uuid:"):
            target = self.index.full_urls.get(reference)
            if target is None:
                raise InputRejected("broken reference: no entry has this fullUrl", where)
            return self.full_url_for(*target)
        match = _REFERENCE.match(reference)
        if match:
            resource_type, resource_id = match.group("type"), match.group("id")
            if resource_type == "Patient" and not self.index.has_patient(resource_id):
                raise InputRejected("broken reference: Patient not found in input", where)
            return f"{resource_type}/{self.map_id(resource_type, resource_id)}"
        conditional = _CONDITIONAL.match(reference)
        if conditional:
            # Search parameters carry identifiers (NPI, MRN): the whole reference is hashed.
            prefix = conditional.group("type")
            return f"{prefix}/{self.pseudonymizer.token('fhir-ref', reference, 24)}"
        if _OID.match(reference):
            return "urn:oid:" + self.pseudonymizer.uid(reference.removeprefix("urn:oid:"))
        raise InputRejected(INVALID_REFERENCE, where)

    def map_full_url(self, full_url: str, where: str = "") -> str:
        """An entry's fullUrl as ``urn:uuid:`` derived from the pseudonymous resource id."""
        target = self.index.full_urls.get(full_url)
        if target is None:
            match = _TRAILING_REFERENCE.search(full_url)
            if match is None:
                return urn_uuid(self.pseudonymizer.digest("fullurl", full_url))
            target = (match.group("type"), match.group("id"))
        return self.full_url_for(*target)

    def full_url_for(self, resource_type: str, resource_id: str) -> str:
        key = (resource_type, resource_id)
        cached = self._full_url_cache.get(key)
        if cached is not None:
            return cached
        mapped = self.map_id(resource_type, resource_id)
        full_url = urn_uuid(self.pseudonymizer.digest("fullurl", mapped))
        if resource_type != "Patient":  # a Patient's id maps through the growing index
            if len(self._full_url_cache) > 200_000:
                self._full_url_cache.clear()
            self._full_url_cache[key] = full_url
        return full_url

    # ----- plans ----------------------------------------------------------------------
    @staticmethod
    def _fhirpath_target(rule: Rule) -> str | None:
        """The element path a FHIRPath rule can select, if its shape shows it (else any)."""
        stripped = rule.selector
        while True:
            reduced = _FUNCTION_CALL.sub("", stripped)
            if reduced == stripped:
                break
            stripped = reduced
        return stripped if re.fullmatch(r"[A-Z][A-Za-z0-9]*(?:\.[A-Za-z_]\w*)+", stripped) else None

    def _rule_matches(self, rule: Rule, resource_type: str, path: str) -> bool:
        if not rule.applies_to_resource(resource_type):
            return False
        if rule.kind == "path":
            assert rule.path_re is not None
            root = rule.selector.split(".", 1)[0]
            if root != "*" and is_data_type(root):
                # Data-type-rooted path (e.g. Reference.display): match on the parent type.
                tail_len = rule.selector.count(".")
                parts = path.split(".")
                if len(parts) <= tail_len:
                    return False
                parent = ".".join(parts[: len(parts) - tail_len])
                candidate = root + "." + ".".join(parts[len(parts) - tail_len :])
                return element_type(parent) == root and bool(rule.path_re.match(candidate))
            return bool(rule.path_re.match(path))
        if rule.kind == "type":
            return element_type(path) == rule.selector
        return False

    def _plan(self, resource_type: str, path: str) -> _Plan:
        plan = self._plans.get(path)
        if plan is not None:
            return plan
        if self._compiled is not None:
            plan = self._indexed_plan(resource_type, path)
        else:
            plan = self._scanned_plan(resource_type, path)
        self._plans[path] = plan
        return plan

    def _scanned_plan(self, resource_type: str, path: str) -> _Plan:
        """Every rule tried in order (the generic engine's way: the reference)."""
        static: Rule | None = None
        dynamic: list[Rule] = []
        for rule in self.policy.rules:
            if rule.kind == "fhirpath":
                target = self._dynamic_paths[rule.index]
                if rule.applies_to_resource(resource_type) and target in (None, path):
                    dynamic.append(rule)
                continue
            if self._rule_matches(rule, resource_type, path):
                static = rule
                break
        return _Plan(static, tuple(dynamic))

    def _indexed_plan(self, resource_type: str, path: str) -> _Plan:
        """``_scanned_plan`` trying only the rules that can select ``path``: path rules whose
        last segment is the path's (or ``*``), type rules of the path's data type."""
        if self._rule_index is None:
            by_last: dict[str, list[Rule]] = {}
            by_type: dict[str, list[Rule]] = {}
            for rule in self.policy.rules:
                if rule.kind == "path":
                    by_last.setdefault(rule.selector.rsplit(".", 1)[-1], []).append(rule)
                elif rule.kind == "type":
                    by_type.setdefault(rule.selector, []).append(rule)
            self._rule_index = (by_last, by_type)
        by_last, by_type = self._rule_index
        candidates = by_last.get(path.rsplit(".", 1)[-1], []) + by_last.get("*", [])
        data_type = element_type(path)
        if data_type is not None:
            candidates += by_type.get(data_type, [])
        static: Rule | None = None
        for rule in sorted(candidates, key=lambda r: r.index):
            if self._rule_matches(rule, resource_type, path):
                static = rule
                break
        dynamic = tuple(
            rule
            for rule in self.policy.rules
            if rule.kind == "fhirpath"
            and (static is None or rule.index < static.index)
            and rule.applies_to_resource(resource_type)
            and self._dynamic_paths[rule.index] in (None, path)
        )
        return _Plan(static, dynamic)

    # ----- resources ------------------------------------------------------------------
    def patient_key_of(self, resource: dict[str, Any], where: str = "") -> str | None:
        """The MRN of the patient a resource belongs to (None for non-patient resources)."""
        resource_type = resource.get("resourceType")
        if resource_type == "Patient":
            return self.index.patient_key_for(str(resource.get("id", "")), resource)
        for key in _PATIENT_KEYS:
            value = resource.get(key)
            ref = value.get("reference") if isinstance(value, dict) else None
            if isinstance(ref, str):
                patient_id = self.index.patient_id_of_reference(ref)
                if patient_id is not None:
                    return self.index.patient_key_for(patient_id)
                if ref.startswith("Patient/") or ref.startswith("urn:uuid:"):
                    raise InputRejected(
                        "broken reference: patient not found in input", f"{where}{key}.reference"
                    )
        return None

    def deidentify_resource(
        self,
        resource: dict[str, Any],
        where: str = "",
        contained: bool = False,
        container_ids: frozenset[str] | None = None,
    ) -> tuple[dict[str, Any], ResourceReport]:
        """De-identify one resource dict; raises ``InputRejected`` for broken references.

        ``container_ids`` are the ids of the container's contained resources, which a
        contained resource's ``#id`` references may name (its siblings)."""
        resource_type = resource.get("resourceType")
        if not isinstance(resource_type, str) or not resource_type:
            raise InputRejected("resource has no resourceType", where)
        patient_key = self.patient_key_of(resource, where)
        if not contained:
            container_ids = _contained_ids(resource)
        ctx = _Context(self, resource_type, patient_key, where, container_ids or frozenset())
        report = ResourceReport(
            resource_type,
            self.pseudonymizer.patient_pseudonym(patient_key) if patient_key else None,
        )
        state = WalkState(resource, ctx, report, contained)
        state.where = where  # contained resources are located under this one
        if self._compiled is not None:
            node = self._compiled.node(resource_type, self._unknown, True, True)
            out = self._compiled.walk(node, resource, state)
        else:
            out = self._walk(resource, resource_type, self._unknown, True, state)
        if out is REDACT:
            out = {}
        out["resourceType"] = resource_type
        return out, report

    def deidentify_entry(self, entry: dict[str, Any], where: str = "") -> dict[str, Any]:
        """A Bundle entry's wrapper (fullUrl, request, search, response) without its resource."""
        ctx = _Context(self, "Bundle", None, where)
        state = WalkState(entry, ctx, ResourceReport("Bundle", None), False)
        state.where = where
        if self._compiled is not None:
            node = self._compiled.node("Bundle.entry", self._unknown, True, False)
            out = self._compiled.walk(node, entry, state)
        else:
            out = self._walk(entry, "Bundle.entry", self._unknown, True, state)
        return {} if out is REDACT else dict(out)

    def _walk(
        self, node: dict[str, Any], path: str, inherited: Method, selected: bool, state: WalkState
    ) -> Any:
        """The generic walk (the reference the compiled one is checked against): every
        element's path built, its plan looked up and its rules checked where it stands."""
        out: dict[str, Any] = {}
        for key, value in node.items():
            self._walk_key(out, key, value, path, inherited, selected, state)
        return out if out else REDACT

    def _walk_key(
        self,
        out: dict[str, Any],
        key: str,
        value: Any,
        path: str,
        inherited: Method,
        selected: bool,
        state: WalkState,
    ) -> None:
        """Decide one key of the dict at ``path`` into ``out``."""
        ctx = state.ctx
        resource_type = ctx.resource_type
        if key == "resourceType" and path == resource_type:
            return
        if key.startswith("_"):
            # Extensions/ids of a primitive: kept only where the primitive itself is kept.
            child_path = f"{path}.{key[1:]}"
            decision = self._decide(resource_type, child_path, value, inherited, state)
            if decision.keeps and isinstance(value, dict | list):
                out[key] = value
            else:
                state.report.removed += 1
            return
        child_path = f"{path}.{key}"
        if key == "id" and path == resource_type and state.contained:
            out[key] = self.pseudonymizer.token("contained", str(value), 12)
            return
        if key == "contained" or (key == "resource" and path == "Bundle.entry"):
            items = value if isinstance(value, list) else [value]
            done = []
            for item in items:
                if isinstance(item, dict):
                    sub, sub_report = self.deidentify_resource(
                        item,
                        f"{state.where}{child_path}.",
                        contained=key == "contained",
                        container_ids=ctx.contained_ids,
                    )
                    for name, count in sub_report.rules_applied.items():
                        state.report.rules_applied[name] = (
                            state.report.rules_applied.get(name, 0) + count
                        )
                    done.append(sub)
            if done:
                out[key] = done if isinstance(value, list) else done[0]
            return
        if isinstance(value, list):
            kept = []
            for item in value:
                result = self._element(resource_type, child_path, item, inherited, selected, state)
                if result is not REDACT:
                    kept.append(result)
            if kept:
                out[key] = kept
            else:
                state.report.removed += 1
        else:
            result = self._element(resource_type, child_path, value, inherited, selected, state)
            if result is not REDACT:
                out[key] = result

    def _decide(
        self, resource_type: str, path: str, value: Any, inherited: Method, state: WalkState
    ) -> Method:
        plan = self._plan(resource_type, path)
        for rule in plan.dynamic:
            if state.fhirpath_selects(rule, value):
                state.count(rule)
                return rule.method
        if plan.static is not None:
            state.count(plan.static)
            return plan.static.method
        return inherited

    def _element(
        self,
        resource_type: str,
        path: str,
        value: Any,
        inherited: Method,
        parent_selected: bool,
        state: WalkState,
    ) -> Any:
        """Decide one element. Generic rules (by data type) only transform elements whose
        parent was selected: they never bring back content the allow-list left out."""
        plan = self._plans.get(path) or self._plan(resource_type, path)
        rule: Rule | None = None
        if plan.dynamic:
            for candidate in plan.dynamic:
                if state.fhirpath_selects(candidate, value):
                    rule = candidate
                    break
        if rule is None:
            rule = plan.static
            if rule is not None and rule.generic and not parent_selected:
                rule = None
        if rule is not None:
            applied = state.report.rules_applied
            applied[rule.name] = applied.get(rule.name, 0) + 1
            method = rule.method
        else:
            method = inherited
        if isinstance(value, dict):
            if rule is not None and method.redacts:
                state.report.removed += 1
                return REDACT
            selected = rule is not None or (parent_selected and method is not self._unknown)
            if method.children_selected:
                method = self._unknown
            return self._walk(value, path, method, selected, state)
        if method.keeps:
            if rule is None and isinstance(value, str) and _FULL_DATE.match(value):
                # Safety net: a date under an inherited keep (e.g. an element no model can
                # type) is shifted, never passed through.
                method = self._date_shift
            else:
                return value
        ctx = state.ctx
        ctx.path = path
        result = method.operate(value, ctx)
        if result is REDACT:
            state.report.removed += 1
        return result


def urn_uuid(digest: bytes) -> str:
    """``urn:uuid:`` and the UUID of a digest's first 16 bytes, as ``str(uuid.UUID(bytes=...))``
    writes it (lower-case hex, 8-4-4-4-12), without building the UUID object."""
    h = digest[:16].hex()
    return f"urn:uuid:{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _contained_ids(resource: dict[str, Any]) -> frozenset[str]:
    """Ids of a resource's contained resources: what its ``#id`` references may name."""
    contained = resource.get("contained")
    if not isinstance(contained, list):
        return frozenset()
    return frozenset(
        item["id"]
        for item in contained
        if isinstance(item, dict) and isinstance(item.get("id"), str)
    )


class WalkState:
    """One resource's walk: the resource, its context and report, and the FHIRPath results
    worked out for it; the generic and the compiled walk (``compiled.py``) share it."""

    __slots__ = ("resource", "ctx", "report", "contained", "where", "impure", "_fhirpath_results")

    def __init__(
        self, resource: dict[str, Any], ctx: _Context, report: ResourceReport, contained: bool
    ) -> None:
        self.resource = resource
        self.ctx = ctx
        self.report = report
        self.contained = contained
        self.where = ""
        self.impure = 0  # steps that needed the context (compiled walk: not remembered)
        self._fhirpath_results: dict[int, list[Any]] = {}

    def fhirpath_selects(self, rule: Rule, value: Any) -> bool:
        results = self._fhirpath_results.get(rule.index)
        if results is None:
            assert rule.fhirpath_fn is not None
            try:
                results = list(rule.fhirpath_fn(self.resource))
            except Exception:  # evaluation errors select nothing for this resource
                results = []
            self._fhirpath_results[rule.index] = results
        return any(value == item for item in results)

    def count(self, rule: Rule) -> None:
        applied = self.report.rules_applied
        applied[rule.name] = applied.get(rule.name, 0) + 1


# Data-key scope under which the ``encrypt`` method seals values (one key per patient+scope).
DATA_KEY_SCOPE = "deid-fhir"


def build_fhir_deidentifier(
    pseudonymizer: Pseudonymizer,
    datakeys: DataKeyStore | None = None,
    policy: str | Path | Policy | None = None,
    text_policy: Path | None = None,
    *,
    as_of: date | None = None,
) -> FhirDeidentifier:
    """The FHIR de-identifier as every entry point builds it: rules, data-key sealing, text.

    ``policy`` is a policy name (``safe-harbor``, ``limited-data-set``), file or loaded
    ``Policy``, default Safe Harbor; notes and narratives go through the free-text
    de-identifier. Without ``datakeys`` nothing can be sealed (``encrypt`` removes values).
    """
    from clinflow.deid.fhir.policy import load_policy
    from clinflow.deid.text.engine import TextDeidentifier, load_text_policy  # heavy: presidio

    sealer: DataSealer | None = None
    if datakeys is not None:
        store = datakeys

        def sealer(patient: str, data: bytes, aad: bytes) -> bytes:
            return store.seal(patient, DATA_KEY_SCOPE, data, aad)

    engine = FhirDeidentifier(
        policy if isinstance(policy, Policy) else load_policy(policy),
        pseudonymizer,
        sealer=sealer,
        as_of=as_of,
    )
    texts = load_text_policy(text_policy)
    engine.text_cleaner = TextDeidentifier(pseudonymizer, texts).cleaner(engine.index.known)
    return engine
