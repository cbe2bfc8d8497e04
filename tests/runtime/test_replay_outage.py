"""The Kafka workers' side of ``audit-outage``: while the replay's switch is on, a commit
waits (backing off) and reaches the audit store only once the switch is off."""

from __future__ import annotations

import threading
from pathlib import Path

from clinflow.runtime.replay_outage import OutageSwitch, SwitchedAudit
from helpers.fakes import RecordingAuditSink


def test_a_commit_waits_while_the_switch_is_on_then_goes_through(tmp_path: Path) -> None:
    switch = OutageSwitch(tmp_path / "audit-outage.switch")
    inner = RecordingAuditSink()
    audit = SwitchedAudit(inner, switch)
    audit.append_many([{"n": 1}])  # switch off: straight through
    switch.on()
    done = threading.Event()
    committer = threading.Thread(
        target=lambda: (audit.append_many([{"n": 2}, {"n": 3}]), done.set()), daemon=True
    )
    committer.start()
    assert not done.wait(0.5)  # held back while the audit store is "unreachable"
    assert switch.held() == 1
    switch.off()
    assert done.wait(5.0)
    assert [event["n"] for event in inner.events] == [1, 2, 3]  # nothing lost, in order
    assert switch.held() == 1  # one held commit, counted once
