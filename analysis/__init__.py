"""judgelab's analysis: pure functions over the label and item frames of ``contracts.columns`` (no
database, no Gradio, no I/O). The public API is listed in ``__all__`` and imported on first use
(``import analysis`` itself stays light: the CLI imports its errors on every command).

>>> import analysis
>>> round(analysis.cohen_kappa(["A", "B", "A"], ["A", "B", "B"]), 3)
0.4
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> the module that defines it
_PUBLIC = {
    "agreement": "analysis.agreement",
    "AgreementResult": "analysis.agreement",
    "cohen_kappa": "analysis.agreement",
    "fleiss_kappa": "analysis.agreement",
    "krippendorff_alpha": "analysis.agreement",
    "correlations": "analysis.agreement",
    "alpha": "analysis.reliability",
    "fleiss": "analysis.reliability",
    "human_ceiling": "analysis.compare",
    "alt_test": "analysis.compare",
    "benjamini_yekutieli": "analysis.compare",
    "position_bias": "analysis.bias",
    "swap_consistency": "analysis.bias",
    "length_bias": "analysis.bias",
    "self_preference": "analysis.bias",
    "leniency": "analysis.bias",
    "transitivity": "analysis.consistency",
    "calibration": "analysis.calibration",
    "rater_calibration": "analysis.calibration",
    "ranking": "analysis.system",
    "bradley_terry": "analysis.system",
    "select_raters": "analysis.frames",
    "votes": "analysis.frames",
    "majority": "analysis.frames",
    "by_stratum": "analysis.strata",
    "build_report": "analysis.report",
    "Report": "analysis.report_model",
    "Undefined": "analysis.report_model",
    "AnalysisError": "analysis.errors",
    "ArgumentError": "analysis.errors",
    "MetricUndefinedError": "analysis.errors",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'analysis' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return __all__
