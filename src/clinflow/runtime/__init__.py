"""Runtimes: the composition root, the streaming graph, embedded and Kafka runtimes, demo."""

from clinflow.runtime.pipeline import DemoPipeline, PipelineOptions
from clinflow.runtime.report import DemoReport

__all__ = ["DemoPipeline", "DemoReport", "PipelineOptions"]
