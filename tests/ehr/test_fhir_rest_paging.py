"""Properties of paging and of the PHI-free request names (hypothesis): any JSON in a
Bundle's ``link`` is read without a crash; relative, path-absolute and absolute next links
resolve to the same page; any paging (sizes, link forms, overlapping pages, a loop back)
yields every resource exactly once; query values and resource ids never reach an error."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clinflow.ehr.fhir_client import FhirHttp, FhirRestClient, LinkError, next_link, safe_url
from clinflow.ehr.fhir_client.urls import same_origin

BASE = "https://ehr.example:8443/fhir"
PAGE = f"{BASE}/Observation?patient=123&_count=10"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(["relation", "url", "x"]), children, max_size=3)
    ),
    max_leaves=12,
)
links = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "relation": st.sampled_from(["next", "NEXT", " next ", "self", "previous"])
            | st.text(max_size=5),
            "url": st.text(max_size=40)
            | st.sampled_from(["?page=2", "/fhir/x?y", "//evil.example/x", "javascript:1"]),
        },
    )
    | json_values,
    max_size=4,
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(bundle=st.dictionaries(st.just("link"), links | json_values, max_size=1) | json_values)
def test_any_link_json_is_read_without_a_crash(bundle: Any) -> None:
    try:
        found = next_link(bundle, PAGE)
    except LinkError:
        return  # a refusal, with a reason
    assert found is None or (found.startswith("https://") and same_origin(found, PAGE))


segment = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-.", min_size=1, max_size=12)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    path=st.lists(segment.filter(lambda s: s not in (".", "..")), min_size=1, max_size=4),
    page=st.integers(min_value=2, max_value=10_000),
    token=segment,
)
def test_relative_path_absolute_and_absolute_links_reach_the_same_page(
    path: list[str], page: int, token: str
) -> None:
    directory = "/fhir/" + "/".join(path[:-1]) + ("/" if len(path) > 1 else "")
    current = f"https://ehr.example:8443{directory}{path[-1]}?page=1"
    expected = f"https://ehr.example:8443{directory}{path[-1]}?page={page}&t={token}"
    for form in (
        f"{path[-1]}?page={page}&t={token}",  # relative to the page's directory
        f"?page={page}&t={token}",  # query only
        f"{directory}{path[-1]}?page={page}&t={token}",  # path-absolute
        expected,  # absolute
        f"  {expected}#frag ",  # padded, with a fragment
    ):
        bundle = {"resourceType": "Bundle", "link": [{"relation": "next", "url": form}]}
        assert next_link(bundle, current) == expected, form


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    names=st.lists(st.text(alphabet="abcdefghij_", min_size=1, max_size=8), max_size=4),
    values=st.lists(st.text(alphabet="0123456789XYZ", min_size=4, max_size=10), max_size=4),
    patient_id=st.text(alphabet="0123456789XYZ-", min_size=4, max_size=12),
)
def test_request_names_carry_no_query_value_and_no_id(
    names: list[str], values: list[str], patient_id: str
) -> None:
    query = "&".join(f"{n}={v}" for n, v in zip(names, values, strict=False))
    url = f"{BASE}/Patient/{patient_id}/$everything?{query}"
    named = safe_url(url)
    assert named.startswith("/fhir/Patient/{id}/$everything")
    assert patient_id not in named
    for value in values:
        assert value not in named


@st.composite
def pagings(draw: st.DrawFn) -> tuple[list[str], list[list[str]], list[str], bool]:
    """(item ids, pages of ids with overlaps, the link form of each page, loop at the end)."""
    items = [f"o{i}" for i in range(draw(st.integers(0, 60)))]
    size = draw(st.integers(1, 12))
    pages = [items[i : i + size] for i in range(0, len(items), size)] or [[]]
    for index in range(1, len(pages)):
        if draw(st.booleans()):  # unstable paging: the previous page's last item again
            pages[index] = [pages[index - 1][-1], *pages[index]]
    if draw(st.booleans()):
        pages.append([])  # an empty last page (no entry element)
    forms = draw(
        st.lists(
            st.sampled_from(["relative", "query", "path", "absolute"]),
            min_size=len(pages),
            max_size=len(pages),
        )
    )
    return items, pages, forms, draw(st.booleans())


@settings(
    max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(paging=pagings())
def test_any_paging_yields_every_resource_exactly_once(
    paging: tuple[list[str], list[list[str]], list[str], bool],
) -> None:
    items, pages, forms, loop = paging

    def link(index: int) -> str:
        form = forms[index - 1]
        return {
            "relative": f"Observation?page={index + 1}",
            "query": f"?page={index + 1}",
            "path": f"/fhir/Observation?page={index + 1}",
            "absolute": f"{BASE}/Observation?page={index + 1}",
        }[form]

    def handler(request: httpx.Request) -> httpx.Response:
        index = int(request.url.params.get("page", "1"))
        bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset"}
        ids = pages[index - 1]
        if ids:
            bundle["entry"] = [{"resource": {"resourceType": "Observation", "id": i}} for i in ids]
        if index < len(pages):
            bundle["link"] = [{"relation": "next", "url": link(index)}]
        elif loop:
            bundle["link"] = [{"relation": "next", "url": f"{BASE}/Observation?page=1"}]
        return httpx.Response(200, content=orjson.dumps(bundle))

    async def main() -> list[str]:
        transport = httpx.MockTransport(handler)
        async with FhirHttp(BASE, transport=transport) as http:
            client = FhirRestClient(BASE, http)
            return [orjson.loads(f.payload)["id"] async for f in client.search("Observation")]

    assert asyncio.run(main()) == items
