"""The embedded runtime: one process, SQLite stores, the pipeline stages wired in order."""

from clinflow.runtime.pipeline import DemoPipeline, PipelineOptions
from clinflow.runtime.report import DemoReport
from clinflow.runtime.rundir import RunDir

__all__ = ["DemoPipeline", "DemoReport", "PipelineOptions", "RunDir"]
