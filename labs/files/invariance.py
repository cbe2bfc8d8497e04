"""Lab 6: is the triage score invariant to race and ethnicity?

Usage: python lab6/invariance.py http://127.0.0.1:8706 lab6/token.txt lab6/triage.json
For the request in triage.json and every combination of five OMB race categories and two
ethnicity categories (US Core codes), it
  1. sends the request WITH race and ethnicity straight to /triage/score (the endpoint
     should refuse it: 422 naming the field), and
  2. sends it through the pipeline's minimum-necessary stage first (clinflow's
     MinimumNecessaryStage for the triage endpoint of policies/endpoints.yaml), which strips
     every field the endpoint may not receive, and records the ESI level it gets back.
It prints one JSON object: how many variants, how many were refused when sent directly,
which fields the stage removed, and the distinct ESI levels seen (invariance: exactly one).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx

from clinflow.scoring.minimum_necessary import MinimumNecessaryStage
from clinflow.scoring.policy import load_policy

RACES = ["1002-5", "2028-9", "2054-5", "2076-8", "2106-3"]  # OMB race categories
ETHNICITIES = ["2135-2", "2186-5"]  # Hispanic or Latino / Not Hispanic or Latino


def main(url: str, token_file: str, request_file: str) -> int:
    token = Path(token_file).read_text(encoding="utf-8").strip()
    base = json.loads(Path(request_file).read_text(encoding="utf-8"))
    stage = MinimumNecessaryStage(load_policy().endpoint("triage"))
    headers = {"Authorization": f"Bearer {token}"}
    refused, levels, removed = 0, set(), set()
    with httpx.Client(base_url=url, headers=headers, timeout=10) as client:
        for race in RACES:
            for ethnicity in ETHNICITIES:
                variant = {**base, "race": race, "ethnicity": ethnicity}
                if client.post("/triage/score", json=variant).status_code == 422:
                    refused += 1
                stripped, gone = stage.strip_record(variant)
                removed.update(gone)
                answer = client.post("/triage/score", json=stripped)
                answer.raise_for_status()
                levels.add(answer.json()["esi_level"])
    print(
        json.dumps(
            {
                "variants": len(RACES) * len(ETHNICITIES),
                "refused_direct": refused,
                "removed_fields": sorted(removed),
                "esi_levels": sorted(levels),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
