"""Simulated stacks shared by the pipeline-vs-truth tests (helpers of the benchmark script)."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def bench():
    """The module ``benchmarks/pipeline_vs_astrodrizzle.py`` (simulation and runners)."""
    path = ROOT / "benchmarks" / "pipeline_vs_astrodrizzle.py"
    spec = importlib.util.spec_from_file_location("pipeline_vs_astrodrizzle", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
