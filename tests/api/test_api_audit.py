"""Every audit-query endpoint, for every role, including refusals and bad parameters."""

from __future__ import annotations

import base64

import pytest

from clinflow.audit import NoteVerifier
from helpers import rfc9162_reference as ref

from .helpers import ALICE, BOB, Api

CONTENT_ROLES = ["auditor", "privacy_officer"]


def unb64(text: str) -> bytes:
    return base64.b64decode(text)


def test_health_needs_no_token(api: Api) -> None:
    assert api.get("/health").json() == {"status": "ok"}


@pytest.mark.parametrize(
    "url",
    [
        "/audit/events",
        "/audit/events/0",
        "/audit/checkpoint",
        "/audit/pubkey",
        "/audit/proofs/consistency?first=1",
        "/audit/proofs/inclusion?index=0",
        f"/audit/patients/{ALICE}/disclosures",
    ],
)
def test_every_endpoint_refuses_missing_bad_and_revoked_tokens(api: Api, url: str) -> None:
    missing = api.client.get(url)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert api.client.get(url, headers={"Authorization": "Bearer nope"}).status_code == 401
    assert api.get(url, "revoked").status_code == 401
    assert api.client.get(url, headers={"Authorization": "Basic abc"}).status_code == 401


@pytest.mark.parametrize(
    "url", ["/audit/events", "/audit/events/0", f"/audit/patients/{ALICE}/disclosures"]
)
def test_service_tokens_cannot_read_entry_contents(api: Api, url: str) -> None:
    response = api.get(url, "service")
    assert response.status_code == 403
    assert "service" in response.json()["detail"]


@pytest.mark.parametrize("role", CONTENT_ROLES)
def test_search_by_each_field(api: Api, role: str) -> None:
    def indices(**params: object) -> list[int]:
        # Only the seeded entries: the API's own query entries are recorded "now".
        params = {"date-to": "2026-01-02T00:00:00Z", **params}
        body = api.get("/audit/events", role, format="json", limit=500, **params).json()
        return [item["index"] for item in body["items"]]

    everything = api.get("/audit/events", role, format="json", limit=41).json()["items"]
    by_patient = indices(patient=ALICE)
    assert by_patient and all(
        everything[i]["event"]["patient"]["reference"] == f"Patient/{ALICE}" for i in by_patient
    )
    disclosures = indices(code="disclose")
    assert len(disclosures) == 10
    assert indices(action="R") == disclosures
    assert len(indices(purpose="HRESCH")) == 5 + 1
    assert indices(agent="clinflow-release") == disclosures
    assert indices(outcome="4") == [40]
    assert len(indices(**{"entity-type": "message"})) == 40
    assert indices(**{"entity-type": "consent"}) == []
    assert indices(**{"date-from": "2026-01-01T00:05:00Z"}) == list(range(5, 41))
    window = {"date-from": "2026-01-01T00:05:00Z", "date-to": "2026-01-01T01:05:00+01:00"}
    assert indices(**window) == list(range(5, 6))
    assert indices(patient=BOB, **{"date-to": "2026-01-01T00:10:00Z"}) == [2, 4, 5, 7, 10]
    assert indices(**{"date-to": "2000-01-01T00:00:00Z"}) == []


def test_cursor_pagination_walks_everything_once_in_both_orders(api: Api) -> None:
    for sort in ("asc", "desc"):
        seen: list[int] = []
        cursor = None
        while True:
            params: dict[str, object] = {
                "limit": 7,
                "format": "json",
                "sort": sort,
                "date-to": "2026-01-02T00:00:00Z",  # the seeded entries, not our own queries
            }
            if cursor:
                params["cursor"] = cursor
            body = api.get("/audit/events", "auditor", **params).json()
            seen.extend(item["index"] for item in body["items"])
            cursor = body["next_cursor"]
            if cursor is None:
                break
        expected = list(range(41))
        assert seen == (expected if sort == "asc" else expected[::-1])


def test_bundle_output_is_a_fhir_searchset(api: Api) -> None:
    bundle = api.get("/audit/events", "auditor", patient=BOB, limit=3).json()
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "searchset"
    assert len(bundle["entry"]) == 3
    first = bundle["entry"][0]
    assert first["resource"]["resourceType"] == "AuditEvent"
    assert first["fullUrl"].endswith(f"/audit/events/{first['resource']['id']}")
    next_link = [link for link in bundle["link"] if link["relation"] == "next"]
    assert next_link and "cursor=" in next_link[0]["url"]


def test_patient_token_sees_only_its_patient(api: Api) -> None:
    body = api.get("/audit/events", "patient", format="json", limit=500).json()
    assert body["items"]
    assert {i["event"]["patient"]["reference"] for i in body["items"]} == {f"Patient/{ALICE}"}
    assert api.get("/audit/events", "patient", patient=BOB).status_code == 403
    bob_entry = api.get("/audit/events", "auditor", patient=BOB, format="json").json()
    bob_index = bob_entry["items"][0]["index"]
    assert api.get(f"/audit/events/{bob_index}", "patient").status_code == 404
    assert api.get(f"/audit/patients/{BOB}/disclosures", "patient").status_code == 403
    assert api.get(f"/audit/patients/{ALICE}/disclosures", "patient").status_code == 200


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"purpose": "MARKETING"}, "purpose"),
        ({"patient": "John Smith"}, "patient"),
        ({"action": "Z"}, "action"),
        ({"code": "nope"}, "code"),
        ({"outcome": "3"}, "outcome"),
        ({"date-from": "yesterday"}, "date-from"),
        ({"date-from": "2026-01-01T00:00:00"}, "date-from"),
        ({"cursor": "!!!"}, "cursor"),
        ({"entity-type": "Bad Type"}, "entity-type"),
        ({"format": "xml"}, "format"),
    ],
)
def test_bad_search_parameters_are_422_naming_the_parameter(
    api: Api, params: dict[str, object], names: str
) -> None:
    response = api.get("/audit/events", "auditor", **params)
    assert response.status_code == 422
    assert f"'{names}'" in response.json()["detail"]


def test_entry_with_inclusion_proof_verifies_against_signed_checkpoint(api: Api) -> None:
    vkey = api.get("/audit/pubkey", "service").json()["vkey"]
    for index in (0, 7, 15, 31):
        body = api.get(f"/audit/events/{index}", "auditor").json()
        entry = body["entry"].encode()
        leaf = ref.sha256(b"\x00" + entry)
        assert unb64(body["leaf_hash"]) == leaf
        proof = body["inclusion_proof"]
        checkpoint = NoteVerifier(vkey).verify(proof["checkpoint"])
        assert checkpoint.size == proof["tree_size"] and index < checkpoint.size
        assert ref.verify_inclusion(
            index, checkpoint.size, leaf, [unb64(h) for h in proof["hashes"]], checkpoint.root
        )
    assert api.get("/audit/events/99999", "auditor").status_code == 404
    assert api.get("/audit/events/-1", "auditor").status_code == 422


@pytest.mark.parametrize("role", ["auditor", "privacy_officer", "service", "patient"])
def test_checkpoint_and_proofs_for_every_role(api: Api, role: str) -> None:
    checkpoint_body = api.get("/audit/checkpoint", role).json()
    vkey = api.get("/audit/pubkey", role).json()["vkey"]
    checkpoint = NoteVerifier(vkey).verify(checkpoint_body["note"])
    assert checkpoint.size == checkpoint_body["tree_size"] == 41
    proof = api.get("/audit/proofs/consistency", role, first=16, second=41).json()
    assert ref.verify_consistency(
        16, 41, unb64(proof["first_root"]), checkpoint.root, [unb64(h) for h in proof["hashes"]]
    )
    inclusion = api.get("/audit/proofs/inclusion", role, index=3, **{"tree-size": 41}).json()
    assert ref.verify_inclusion(
        3,
        41,
        unb64(inclusion["leaf_hash"]),
        [unb64(h) for h in inclusion["hashes"]],
        checkpoint.root,
    )


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("/audit/proofs/consistency?first=30&second=20", "first"),
        ("/audit/proofs/consistency?first=1&second=100000", "second"),
        ("/audit/proofs/consistency", "first"),
        ("/audit/proofs/inclusion?index=500", "index"),
        ("/audit/proofs/inclusion?index=1&tree-size=0", "tree-size"),
        ("/audit/proofs/inclusion?index=1&tree-size=99999", "tree-size"),
    ],
)
def test_bad_proof_parameters_are_422(api: Api, url: str, name: str) -> None:
    response = api.get(url, "service")
    assert response.status_code == 422
    assert f"'{name}'" in response.json()["detail"]


@pytest.mark.parametrize("role", ["privacy_officer", "auditor"])
def test_accounting_of_disclosures(api: Api, role: str) -> None:
    body = api.get(f"/audit/patients/{BOB}/disclosures", role).json()
    assert body["patient"] == BOB
    rows = body["disclosures"]
    assert len(rows) == 5
    for row in rows:
        assert row["recipient"] == "research-store"
        assert row["purpose"] == "HRESCH" and row["purpose_display"] == "healthcare research"
        assert row["released"] and row["data_categories"] == ["vitals"]
        assert row["when"].endswith("Z") and row["released_by"] == "clinflow-release"
    none = api.get(
        f"/audit/patients/{BOB}/disclosures", role, **{"date-to": "2001-01-01T00:00:00Z"}
    )
    assert none.json()["disclosures"] == []
    bad = api.get("/audit/patients/not-a-pseudonym/disclosures", role)
    assert bad.status_code == 422 and "'patient'" in bad.json()["detail"]


def test_every_query_is_itself_audited(api: Api) -> None:
    api.get("/audit/events", "patient")
    api.get("/audit/events")  # refused: 401
    api.get("/audit/events", "service")  # refused: 403
    api.get(f"/audit/patients/{BOB}/disclosures", "privacy_officer")
    logged = api.get("/audit/events", "auditor", code="api-query", format="json", limit=500)
    items = [item["event"] for item in logged.json()["items"]]
    statuses = [
        next(
            d["valueInteger"]
            for d in e["entity"][0]["detail"]
            if d["type"]["coding"][0]["code"] == "status"
        )
        for e in items
    ]
    assert statuses == [200, 401, 403, 200]
    assert items[0]["agent"][0]["role"] == [{"text": "patient"}]
    assert items[0]["patient"]["reference"] == f"Patient/{ALICE}"
    assert items[1]["agent"][0]["who"]["identifier"]["value"] == "anonymous"
    assert items[3]["patient"]["reference"] == f"Patient/{BOB}"
    for event in items:  # tokens never appear in the log
        assert all(token not in str(event) for token in api.tokens.values())


def test_openapi_docs_are_served(api: Api) -> None:
    assert api.client.get("/docs").status_code == 200
    schema = api.client.get("/openapi.json").json()
    for path in (
        "/audit/events",
        "/audit/events/{index}",
        "/audit/checkpoint",
        "/audit/proofs/consistency",
        "/audit/patients/{patient}/disclosures",
    ):
        assert path in schema["paths"]
