"""The dashboard in headless Chromium (Debian's package, driven by Playwright with its
executable path: no browser download), against ``clinflow serve all`` over a small demo
deployment: sign in with a token, watch a run's counts move, search the audit log, verify an
inclusion proof in the page (and see a tampered one fail), revoke a consent as privacy
officer and read the receipt, get the 403 page as auditor. Screenshots are kept
(``CLINFLOW_TEST_ARTIFACTS``/dashboard when set, else the test's temporary folder)."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from clinflow.audit.search_fields import index_fields
from helpers import rfc9162_reference as rfc
from helpers.serving import free_port

from .helpers import CHROMIUM_FLAGS, Demo, chromium, clean_env, wait_until

pytestmark = pytest.mark.slow  # a demo run, a server and a browser: tens of seconds

playwright_api = pytest.importorskip("playwright.sync_api")

# true once the number in the element ``selector`` exceeds ``before``
GREW = "([selector, before]) => Number(document.querySelector(selector)?.textContent) > before"


@dataclass(frozen=True)
class Server:
    base: str
    process: subprocess.Popen[bytes]


@pytest.fixture(scope="module")
def server(demo: Demo) -> Iterator[Server]:
    """``clinflow serve all`` on free loopback ports over the demo's data directory."""
    api_port, scoring_port = free_port(), free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "clinflow", "serve", "all", "--host", "127.0.0.1",
         "--api-port", str(api_port), "--scoring-port", str(scoring_port),
         "--data-dir", str(demo.root)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=clean_env(),
    )  # fmt: skip
    base = f"http://127.0.0.1:{api_port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, "clinflow serve all exited"
            assert time.monotonic() < deadline, "clinflow serve all did not start in 60 s"
            time.sleep(0.2)
        yield Server(base, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    executable = chromium()
    with playwright_api.sync_playwright() as driver:
        launched = driver.chromium.launch(
            executable_path=executable, headless=True, args=list(CHROMIUM_FLAGS[1:])
        )
        yield launched
        launched.close()


class Tab:
    """One browser tab (its own context: its own sessionStorage) with its console errors."""

    def __init__(self, browser: object, server: Server, artifacts: Path) -> None:
        self.context = browser.new_context(viewport={"width": 1200, "height": 900})  # type: ignore[attr-defined]
        self.page = self.context.new_page()
        self.server, self.artifacts = server, artifacts
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))

    def sign_in(self, token: str) -> None:
        self.page.goto(f"{self.server.base}/dashboard")
        self.page.fill("#token", token)
        self.page.click("#login-form button[type=submit]")
        self.page.wait_for_url("**/dashboard/pipeline")

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(self.artifacts / f"{name}.png"), full_page=True)

    def close(self) -> None:
        csp = [e for e in self.errors if "Content Security Policy" in e or "page error" in e]
        self.context.close()
        assert csp == [], "the page broke its own CSP or threw"


@pytest.fixture()
def tab(browser: object, server: Server, artifacts: Path) -> Iterator[Tab]:
    opened = Tab(browser, server, artifacts)
    yield opened
    opened.close()


def _api(server: Server, token: str, path: str, **params: object) -> httpx.Response:
    return httpx.get(
        f"{server.base}{path}", params=params, headers={"Authorization": f"Bearer {token}"}
    )


def _alerted_patient(server: Server, demo: Demo) -> str:
    found = _api(server, demo.tokens["auditor"], "/audit/events", code="alert", format="json")
    patient = index_fields(found.json()["items"][0]["event"]).patient
    assert patient in demo.patients
    return patient


def test_a_bad_token_is_refused_at_sign_in(tab: Tab) -> None:
    tab.page.goto(f"{tab.server.base}/dashboard/pipeline")
    tab.page.wait_for_url("**/dashboard?next=*")  # no token in this tab: sign in first
    tab.page.fill("#token", "cfa_not-a-real-token-at-all")
    tab.page.click("#login-form button[type=submit]")
    tab.page.wait_for_selector("#login-error:has-text('refused')")
    assert tab.page.evaluate("sessionStorage.length") == 0


def test_sign_in_and_watch_a_runs_counts_move(tab: Tab, demo: Demo) -> None:
    tab.sign_in(demo.tokens["privacy_officer"])
    cell = "tr[data-hop='ingest'] .completed"
    tab.page.wait_for_selector(cell)
    before = int(tab.page.inner_text(cell))
    received = "tr[data-hop='ingest'] .received"  # this run's, from run-status.json
    demo_received = tab.page.inner_text(received)
    assert tab.page.inner_text("#run-state") == "idle"  # the demo published its last status
    tab.shot("pipeline-before")
    run = subprocess.Popen(
        [sys.executable, "-m", "clinflow", "run", "--patients", "1", "--seed", "11",
         "--no-progress", "--data-dir", str(demo.root)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=clean_env(),
    )  # fmt: skip
    try:
        wait_until(tab.page, GREW, arg=[cell, before], timeout_s=90)
        tab.shot("pipeline-moving")
        _, stderr = run.communicate(timeout=120)
        assert run.returncode == 0, stderr.decode(errors="replace")[-2000:]
    finally:
        if run.poll() is None:
            run.kill()
            run.wait(timeout=10)
    wait_until(tab.page, GREW, arg=[cell, before])
    assert int(tab.page.inner_text("#audit-entries")) > 0
    # the new run published its own counters (the demo's were replaced)
    wait_until(
        tab.page,
        "([selector, old]) => document.querySelector(selector)?.textContent !== old",
        arg=[received, demo_received],
    )
    wait_until(tab.page, "document.querySelector('#run-state')?.textContent === 'idle'")
    tab.shot("pipeline-after")


def test_audit_search_and_an_inclusion_proof_verified_in_the_page(tab: Tab, demo: Demo) -> None:
    tab.sign_in(demo.tokens["auditor"])
    tab.page.goto(f"{tab.server.base}/dashboard/audit")
    tab.page.select_option("select[name=code]", "disclose")
    tab.page.select_option("select[name=sort]", "asc")  # the demo's first, under its checkpoint
    tab.page.click("#audit-form button[type=submit]")
    tab.page.wait_for_selector("table.audit tbody tr")
    codes = tab.page.locator("table.audit tbody tr td:nth-child(3)").all_inner_texts()
    assert codes and set(codes) == {"disclose"}
    tab.page.locator("button[data-verify]").first.click()
    tab.page.wait_for_selector("#verify-result[data-verdict]")
    result = tab.page.inner_text("#verify-result")
    assert tab.page.get_attribute("#verify-result", "data-verdict") == "pass", result
    assert "checkpoint signature verifies" in result  # Ed25519 in the browser's SubtleCrypto
    tab.shot("audit-proof-verified")

    proof = json.loads(tab.page.input_value("#proof-json"))
    assert proof["checkpoint"] and proof["hashes"]
    tampered = dict(proof, hashes=[_flip(proof["hashes"][0]), *proof["hashes"][1:]])
    tab.page.fill("#proof-json", json.dumps(tampered))
    tab.page.click("#verify-again")
    tab.page.wait_for_selector("#verify-result[data-verdict='fail']")
    assert "VERIFICATION FAILED" in tab.page.inner_text("#verify-result")
    tab.shot("audit-proof-tampered")

    edited = dict(proof, entry=proof["entry"].replace('"disclose"', '"disclosE"', 1))
    assert edited["entry"] != proof["entry"]
    tab.page.fill("#proof-json", json.dumps(edited))
    tab.page.click("#verify-again")
    tab.page.wait_for_selector("#verify-result[data-verdict='fail']")
    tab.page.fill("#proof-json", json.dumps(proof))  # the untouched proof passes again
    tab.page.click("#verify-again")
    tab.page.wait_for_selector("#verify-result[data-verdict='pass']")


def _flip(b64: str) -> str:
    raw = bytearray(base64.b64decode(b64))
    raw[0] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def test_the_pages_proof_code_agrees_with_rfc_9162(tab: Tab, demo: Demo) -> None:
    """Every leaf of every tree of 1..24 entries: the page's root from the audit path equals
    the reference MTH; the same path with one hash changed reaches another root."""
    tab.sign_in(demo.tokens["auditor"])
    tab.page.goto(f"{tab.server.base}/dashboard/audit")
    wait_until(tab.page, "window.ClinflowProof !== undefined")
    cases = []
    for size in range(1, 25):
        entries = [f"entry {i}".encode() for i in range(size)]
        root = base64.b64encode(rfc.mth(entries)).decode()
        for index in range(size):
            leaf = hashlib.sha256(b"\x00" + entries[index]).digest()
            path = [base64.b64encode(h).decode() for h in rfc.path(index, entries)]
            cases.append([index, size, base64.b64encode(leaf).decode(), path, root])
    results = tab.page.evaluate(
        """async (cases) => {
            const P = window.ClinflowProof;
            const out = [];
            for (const [index, size, leaf, path, root] of cases) {
                const hashes = path.map((h) => P.fromBase64(h));
                const got = await P.rootFromPath(index, size, P.fromBase64(leaf), hashes);
                let tampered = null;
                if (hashes.length) {
                    hashes[hashes.length - 1] = await P.sha256(new Uint8Array([7]));
                    tampered = await P.rootFromPath(index, size, P.fromBase64(leaf), hashes);
                }
                out.push([got && P.toBase64(got) === root,
                          tampered === null || P.toBase64(tampered) !== root]);
            }
            return out;
        }""",
        cases,
    )
    assert len(results) == len(cases) == 300
    assert all(ok for ok, _ in results)
    assert all(changed for _, changed in results)


def test_the_pages_checkpoint_signature_check_agrees_with_clinflow(tab: Tab, demo: Demo) -> None:
    """Notes signed by clinflow's NoteSigner verify in the page under their vkey, also when the
    key's base64 holds '+' (it splits name+id+key on the first two '+' only); a changed body,
    another key or a changed key id do not verify."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from clinflow.audit.checkpoint import Checkpoint, NoteSigner

    signers = []
    for seed in range(200):
        signer = NoteSigner("clinflow.test/log", Ed25519PrivateKey.from_private_bytes(
            hashlib.sha256(f"key {seed}".encode()).digest()))  # fmt: skip
        if "+" in signer.vkey().split("+", 2)[2] and len(signers) < 3:
            signers.append(signer)
    assert len(signers) == 3
    other = NoteSigner("clinflow.test/log", Ed25519PrivateKey.from_private_bytes(bytes(32)))
    cases = []
    for n, signer in enumerate(signers):
        note = signer.sign(Checkpoint("clinflow.test/log", 10 + n, bytes([n]) * 32))
        cases += [
            [note, signer.vkey(), True],
            [note.replace(f"\n{10 + n}\n", f"\n{11 + n}\n", 1), signer.vkey(), False],
            [note, other.vkey(), False],
        ]
    tab.sign_in(demo.tokens["auditor"])
    tab.page.goto(f"{tab.server.base}/dashboard/audit")
    wait_until(tab.page, "window.ClinflowProof !== undefined")
    got = tab.page.evaluate(
        """async (cases) => {
            const P = window.ClinflowProof;
            const out = [];
            for (const [note, vkey] of cases) {
                try { out.push(await P.verifyNote(P.parseNote(note), vkey)); }
                catch (error) { out.push("error: " + error.message); }
            }
            return out;
        }""",
        cases,
    )
    assert got == [want for _, _, want in cases]


def test_patient_view_plots_news2_and_alerts(tab: Tab, demo: Demo) -> None:
    patient = _alerted_patient(tab.server, demo)
    tab.sign_in(demo.tokens["auditor"])
    tab.page.goto(f"{tab.server.base}/dashboard/patient")
    tab.page.fill("#patient", patient)
    tab.page.click("#patient-form button[type=submit]")
    tab.page.wait_for_selector("#news2-plot polyline")
    points = tab.page.get_attribute("#news2-plot polyline", "points") or ""
    assert len(points.split()) > 10
    assert tab.page.locator("#news2-plot circle").count() >= 1  # its alerts
    titles = tab.page.locator("#vitals svg .title").all_text_contents()  # SVG: no innerText
    assert [t.split(":")[0] for t in titles] == [
        "respiration rate /min", "SpO2 %", "systolic BP mmHg", "pulse /min", "temperature °C",
    ]  # fmt: skip
    assert all(
        len((p or "").split()) > 10
        for p in tab.page.locator("#vitals svg polyline").evaluate_all(
            "(lines) => lines.map((l) => l.getAttribute('points'))"
        )
    )
    assert tab.page.locator("#disclosures tbody tr").count() >= 1
    tab.shot("patient")


def test_a_patient_token_sees_its_own_record_and_no_other(tab: Tab, demo: Demo) -> None:
    from clinflow.api.auth import TokenStore, api_tokens_path
    from clinflow.config import DataDir

    own, other = demo.patients[1], demo.patients[2]
    store = TokenStore(api_tokens_path(DataDir.open(demo.root)))
    try:
        token = store.create("patient", own)[1]
    finally:
        store.close()
    tab.page.goto(f"{tab.server.base}/dashboard")
    tab.page.fill("#token", token)
    tab.page.click("#login-form button[type=submit]")
    tab.page.wait_for_url("**/dashboard/patient")  # a patient's home is its own record
    wait_until(tab.page, "(own) => document.querySelector('#patient').value === own", arg=own)
    tab.page.click("#patient-form button[type=submit]")
    tab.page.wait_for_selector("#news2-plot polyline")
    tab.shot("patient-token-own")
    tab.page.fill("#patient", other)
    tab.page.click("#patient-form button[type=submit]")
    tab.page.wait_for_selector("#forbidden")
    assert "scoped to another patient" in tab.page.inner_text("#forbidden")


def test_privacy_officer_revokes_and_reads_the_receipt(tab: Tab, demo: Demo) -> None:
    patient = next(p for p in demo.patients if p != _alerted_patient(tab.server, demo))
    tab.sign_in(demo.tokens["privacy_officer"])
    tab.page.goto(f"{tab.server.base}/dashboard/consent")
    tab.page.fill("#consent-patient", patient)
    tab.page.click("#consent-form button[type=submit]")
    tab.page.wait_for_selector("#revoke-form")
    assert tab.page.inner_text("tr[data-purpose='HRESCH'] td:nth-child(2)") == "permit"
    tab.page.check("#revoke-form input[value='HRESCH']")
    tab.page.click("#revoke-form button[type=submit]")
    tab.page.wait_for_selector("#receipt")
    receipt = tab.page.inner_text("#receipt")
    assert "Revocation receipt" in receipt and "complete" in receipt and patient in receipt
    assert int(tab.page.inner_text("#records-found")) > 0  # the demo released research data
    tab.shot("consent-receipt")
    tab.page.click("#consent-form button[type=submit]")  # the state now says deny
    tab.page.wait_for_selector("tr[data-purpose='HRESCH'] .decision-deny")


def test_auditor_gets_the_403_page_when_revoking(tab: Tab, demo: Demo) -> None:
    patient = demo.patients[0]
    tab.sign_in(demo.tokens["auditor"])
    tab.page.goto(f"{tab.server.base}/dashboard/consent")
    tab.page.fill("#consent-patient", patient)
    tab.page.click("#consent-form button[type=submit]")
    tab.page.wait_for_selector("#revoke-form")
    tab.page.check("#revoke-form input[value='TREAT']")
    tab.page.click("#revoke-form button[type=submit]")
    tab.page.wait_for_selector("#forbidden")
    text = tab.page.inner_text("#forbidden")
    assert "403 Forbidden" in text and "role auditor may not use this endpoint" in text
    tab.shot("auditor-403")
    state = _api(tab.server, demo.tokens["auditor"], f"/consent/{patient}").json()
    assert state["decisions"]["TREAT"]["decision"] == "permit"  # nothing was revoked


def test_replay_reports_listed_and_shown_without_their_scripts(tab: Tab, demo: Demo) -> None:
    tab.sign_in(demo.tokens["auditor"])
    tab.page.goto(f"{tab.server.base}/dashboard/replays")
    tab.page.wait_for_selector("button[data-report]")
    assert "replays/sample/report.html" in tab.page.inner_text("#replays")
    tab.page.click("button[data-report]")
    frame = tab.page.frame_locator("#report-frame")
    assert frame.locator("#replay-title").inner_text() == "Replay sample"
    assert tab.page.title().startswith("clinflow dashboard")
    tab.shot("replays")


def test_no_page_shows_an_identifier_of_the_cohort(server: Server, demo: Demo) -> None:
    """Every fragment, for every patient, as privacy officer: no planted identifier (name, MRN,
    SSN, address ...) of the demo's ground truth appears."""
    token = demo.tokens["privacy_officer"]
    bodies = [
        _api(server, token, "/dashboard/fragments/pipeline").text,
        _api(server, token, "/dashboard/fragments/audit", limit=200).text,
        _api(server, token, "/dashboard/fragments/audit", limit=200, sort="asc").text,
        _api(server, token, "/dashboard/fragments/replays").text,
    ]
    for patient in demo.patients:
        bodies.append(_api(server, token, f"/dashboard/fragments/patients/{patient}").text)
        bodies.append(_api(server, token, f"/dashboard/fragments/consent/{patient}").text)
    assert len(bodies) == 4 + 2 * len(demo.patients) and len(demo.phi) > 20
    text = "\n".join(bodies).casefold()
    assert [value for value in demo.phi if value.casefold() in text] == []
