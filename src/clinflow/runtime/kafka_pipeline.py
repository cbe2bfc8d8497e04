"""The deployment's pipeline graph for Kafka workers (the default ``--graph``).

Each worker process opens the data directory's stores once through the composition root
(:class:`~clinflow.runtime.deployment.Deployment`), builds the same stages as the embedded
runtime (:func:`~clinflow.runtime.stages.build_pipeline`) and hands the Kafka runtime the two
hooks the embedded runtime applies itself: quarantine-and-audit for an input a stage
rejects, and the audit buffer's group commit once per batch, before outputs are sent on.

Options (``--graph-option KEY=VALUE``): ``dsn`` (PostgreSQL audit log; default
``$CLINFLOW_AUDIT_DSN``, else SQLite ``<data-dir>/audit.db``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

from clinflow.audit.buffer import BufferedSink
from clinflow.interfaces import AuditSink
from clinflow.runtime.kafka_settings import WorkerGraph
from clinflow.runtime.rejects import quarantine_reject

DSN_ENV = "CLINFLOW_AUDIT_DSN"

def deployment_graph(
    data_dir: Path,
    options: Mapping[str, str],
    audit_wrapper: Callable[[AuditSink], AuditSink] | None = None,
) -> WorkerGraph:
    """The streaming graph over ``data_dir``'s stores, with the Kafka runtime's hooks;
    ``audit_wrapper`` wraps the audit log (the replay's audit-outage fault)."""
    from clinflow.runtime.deployment import Deployment
    from clinflow.runtime.stages import build_pipeline

    dsn = options.get("dsn") or os.environ.get(DSN_ENV) or None
    deployment = Deployment.open(data_dir, dsn=dsn)
    try:
        wrapped = deployment.audit if audit_wrapper is None else audit_wrapper(deployment.audit)
        audit = BufferedSink(wrapped)
        graph = build_pipeline(deployment, audit).graph
    except BaseException:
        deployment.close()
        raise
    graph.closers.extend([audit.flush, deployment.close])
    return WorkerGraph(graph, reject=quarantine_reject(deployment.quarantine, audit),
                       commit=audit.flush)  # fmt: skip
