"""The dataset card (``DATASET_CARD.md``): what is in a dataset and how it was protected, for
the people who will train on it. Generated from the manifest only, so it is reproducible."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from clinflow.datasets.build import Exclusion

EXCLUSION_TEXT = {
    "consent-withdrawn": "the patient withdrew consent for research",
    "consent-denied": "the patient's consent denies this use",
    "no-consent": "no consent record permits research",
    "dua-expired": "the data use agreement covering the class had expired",
    "dua-not-yet": "the data use agreement covering the class was not yet in force",
    "class-not-covered": "no listed data use agreement covers the data class",
    "no-agreement": "no listed data use agreement covers the purpose",
    "deid-level": "the data's de-identification level is below what the agreement requires",
    "unreadable": "crypto-shredded (its data key was destroyed) or missing",
}


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def render_card(manifest: dict[str, Any], excluded: Sequence[Exclusion]) -> str:
    records = manifest["records"]
    patients = sorted({r["patient"] for r in records})
    by_class = Counter(r["data_class"] for r in records)
    by_kind = Counter(r["kind"] for r in records)
    modalities = sorted(
        {r["data_class"].partition(":")[2] or "unknown" for r in records if r["kind"] == "dicom"}
    )
    lines = [
        f"# Dataset card — {manifest['dataset_id']}",
        "",
        "Synthetic-data research dataset built by clinflow from its de-identified research"
        " store. Every record below was permitted, at the as-of time, by the patient's"
        " Consent and by a data use agreement in force (see `manifest.json`).",
        "",
        "## Provenance",
        "",
        f"- Recipient: {manifest['recipient']}",
        f"- Purpose of use: {manifest['purpose']}",
        f"- As of: {manifest['as_of']}",
        f"- Policy set hash: `{manifest['policy_set_hash']}`",
        f"- Pseudonymization key epoch: `{manifest['key_epoch']}`",
        f"- Code version: {manifest['code_version']}",
        "",
        "### Data use agreements",
        "",
        *_table(
            [
                "id",
                "version",
                "period",
                "data classes",
                "modalities",
                "de-id required",
                "re-identification keys",
            ],
            [
                [
                    a["id"],
                    a["version"],
                    f"{a['period']['start']} .. {a['period']['end']}",
                    ", ".join(a["data_classes"]),
                    ", ".join(a["modalities"]) or "all",
                    a["deidentification"],
                    "may be held" if a["reidentification_keys"] else "may not be held",
                ]
                for a in manifest["agreements"]
            ],
        ),  # fmt: skip
        "",
        "## Cohort",
        "",
        f"- Patients: {len(patients)}",
        f"- Records: {len(records)} ("
        + ", ".join(f"{kind} {count}" for kind, count in sorted(by_kind.items()))
        + ")",
        f"- Imaging modalities: {', '.join(modalities) or 'none'}",
        "",
        *_table(["data class", "records"], sorted(by_class.items())),
        "",
        "## Exclusions by reason",
        "",
    ]
    counts = Counter(e.code for e in excluded)
    if counts:
        lines += _table(
            ["reason", "items", "meaning"],
            [[code, n, EXCLUSION_TEXT.get(code, code)] for code, n in sorted(counts.items())],
        )
    else:
        lines.append("None.")
    level = manifest["deidentification_held"]
    lines += [
        "",
        "## Privacy measures",
        "",
        f"- De-identification level of the source store: {level} (FHIR allow-list rules,"
        " DICOM PS3.15 basic profile with clean descriptors, clinical-note text"
        " de-identification); the agreements require at least "
        + ", ".join(sorted({a["deidentification"] for a in manifest["agreements"]}))
        + ".",
        "- Patients appear only as keyed pseudonyms (HMAC-SHA256 under a key the data"
        " custodian keeps); dates are shifted by a keyed per-patient offset, so intervals"
        " survive.",
        "- Re-identification keys: "
        + (
            "the agreements allow the recipient to hold them."
            if all(a["reidentification_keys"] for a in manifest["agreements"])
            else "not part of the dataset and may not be held by the recipient."
        ),
        "- Each record names its consent, its data use agreement and its lineage; a"
        " withdrawal or an expired agreement removes it from the next rebuild"
        " (`clinflow dataset rebuild`), which reports exactly what changed and why.",
        "- Research data are sealed per patient at rest; withdrawal destroys the patient's"
        " key (crypto-shredding), so older copies of the store cannot be read.",
        "",
        "Check this folder with `clinflow dataset verify DIR` (files against the manifest,"
        " disclosures against the audit log).",
        "",
    ]
    return "\n".join(lines)
