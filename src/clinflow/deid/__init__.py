"""De-identification: DICOM (PS3.15 Annex E), FHIR (declarative rules), free text, leak scans.

Subpackages, one per input kind: ``deid.dicom`` (profile, actions, engine, batch, CLI),
``deid.fhir`` (policy, methods, engine, file I/O, CLI), ``deid.text`` (recognizers,
known identifiers, engine, evaluation), ``deid.leaks`` (residual-PHI scanner); shared by all:
``deid.pseudonym`` (keyed pseudonyms, UIDs, date offsets) and ``deid.surrogates`` (fake names).

The names in ``__all__`` are the public API. They are resolved lazily (PEP 562) so that
``import clinflow.deid.pseudonym`` does not load pydicom, presidio or fhirpath.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from clinflow.deid.dicom.batch import DicomDeidStage, deidentify_tree
    from clinflow.deid.dicom.engine import DeidResult, DicomDeidentifier
    from clinflow.deid.dicom.profile import compile_policy
    from clinflow.deid.fhir.engine import FhirDeidentifier, build_fhir_deidentifier
    from clinflow.deid.fhir.io import FhirDeidRunner
    from clinflow.deid.fhir.policy import load_policy
    from clinflow.deid.leaks.scanner import LeakReport, scan
    from clinflow.deid.pseudonym import Pseudonymizer
    from clinflow.deid.surrogates import surrogate_name
    from clinflow.deid.text.engine import TextDeidentifier, TextResult, load_text_policy

_EXPORTS = {
    "DeidResult": "clinflow.deid.dicom.engine",
    "DicomDeidStage": "clinflow.deid.dicom.batch",
    "DicomDeidentifier": "clinflow.deid.dicom.engine",
    "FhirDeidRunner": "clinflow.deid.fhir.io",
    "FhirDeidentifier": "clinflow.deid.fhir.engine",
    "LeakReport": "clinflow.deid.leaks.scanner",
    "Pseudonymizer": "clinflow.deid.pseudonym",
    "TextDeidentifier": "clinflow.deid.text.engine",
    "TextResult": "clinflow.deid.text.engine",
    "build_fhir_deidentifier": "clinflow.deid.fhir.engine",
    "compile_policy": "clinflow.deid.dicom.profile",
    "deidentify_tree": "clinflow.deid.dicom.batch",
    "load_policy": "clinflow.deid.fhir.policy",
    "load_text_policy": "clinflow.deid.text.engine",
    "scan": "clinflow.deid.leaks.scanner",
    "surrogate_name": "clinflow.deid.surrogates",
}

__all__ = [
    "DeidResult",
    "DicomDeidStage",
    "DicomDeidentifier",
    "FhirDeidRunner",
    "FhirDeidentifier",
    "LeakReport",
    "Pseudonymizer",
    "TextDeidentifier",
    "TextResult",
    "build_fhir_deidentifier",
    "compile_policy",
    "deidentify_tree",
    "load_policy",
    "load_text_policy",
    "scan",
    "surrogate_name",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'clinflow.deid' has no attribute {name!r}")
    return getattr(import_module(module), name)


def __dir__() -> list[str]:
    return __all__
