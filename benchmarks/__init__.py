"""DeepTool's evaluation harness: `evaluate(agent, ...)`, `deeptool-bench run|report`."""

from .records import SampleRecord, read_samples
from .runner import SIX_BENCHMARKS, RunConfig, RunResult, evaluate

__all__ = ["SIX_BENCHMARKS", "RunConfig", "RunResult", "SampleRecord", "evaluate",
           "read_samples"]
