"""The report's types: every section of :func:`analysis.report.build_report`, as pydantic models.

The report is built as plain data by the metric functions and validated into :class:`Report` once,
at the end of ``build_report``; everything that shows it (the terminal text, the HTML report, the
figures, the dashboard) reads these attributes, so a missing or renamed field is a type error, not a
``KeyError`` at run time. :meth:`Report.to_json` is the one serialisation: the JSON that
``judgelab report --json`` prints, with the field names people's scripts read (fields may be added,
none renamed or removed).

A figure the data cannot define is :class:`Undefined` (``{"error": "..."}`` in JSON), the explicit
"undefined, because ..." arm: one thin section never hides the rest.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

# a 95% interval [low, high]; None where the report was built without resamples (n_boot = 0)
Interval = tuple[float | None, float | None]
Category = str | int | float


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Undefined(_Section):
    """A figure the data cannot define; ``error`` says why (with the numbers)."""

    error: str


def defined(value: object) -> bool:
    """True for a computed figure, False for an :class:`Undefined` one or an absent one."""
    return value is not None and not isinstance(value, Undefined)


class Agreement(_Section):
    """Percent agreement and Cohen's kappa over comparisons (``analysis.agreement.AgreementResult``)."""

    n: int
    n_items: int
    agreement: float
    agreement_ci95: Interval | None
    kappa: float | None
    kappa_ci95: Interval | None
    categories: list[Category]
    weights: str | None = None
    resampling_unit: str | None = None  # what the interval's bootstrap drew: "item" or a cluster field
    orders: str | None = None  # how a rater labeled in both orders counted: combined, each or first
    kappa_form: str | None = None  # "cohen" (two sides) or "scott" (a group against itself: Scott's pi)
    # without ties (S2): the share of comparisons dropped, and of each side's votes that were ties
    dropped_share: float | None = None
    tie_share_a: float | None = None
    tie_share_b: float | None = None


class Reliability(_Section):
    """Krippendorff's alpha or Fleiss' kappa of a rater group."""

    metric: str
    value: float
    ci95: Interval | None
    n_items: int
    n_raters: int
    level: str | None = None
    resampling_unit: str | None = None


class AgreementBlock(_Section):
    """One comparison, counted three ways (with ties, without ties, against side b's majority), plus
    the quadratic-weighted kappa on ordinal scales. Absent keys: the counting rule does not apply."""

    with_ties: Agreement | Undefined | None = None
    majority: Agreement | Undefined | None = None
    without_ties: Agreement | Undefined | None = None
    quadratic_kappa: Agreement | Undefined | None = None


class HumanAgreement(AgreementBlock):
    alpha: Reliability | Undefined
    fleiss: Reliability | Undefined


class CeilingRow(Agreement):
    annotator: str


class Ceiling(_Section):
    per_human: list[CeilingRow]
    mean_agreement: float
    weighted_agreement: float
    mean_kappa: float | None


class AltTestHuman(_Section):
    annotator: str
    n_items: int
    rho_judge: float
    rho_human: float
    p_value: float
    rejected: bool = False


class AltTest(_Section):
    """The alternative annotator test (Calderon, Reichart & Dror 2025)."""

    judge: str
    epsilon: float
    alpha: float
    winning_rate: float
    advantage_probability: float
    passed: bool
    humans: list[AltTestHuman]
    warnings: list[str]
    similarity: str | None = None  # accuracy (categories) or neg_rmse (scores), as the authors define it
    min_items: int | None = None
    left_out: list[str] = []  # humans with fewer than min_items usable items: not tested


class Confusion(_Section):
    categories: list[Category]
    rows: str
    columns: str
    matrix: list[list[int]]


class Correlations(_Section):
    n_items: int
    spearman: float
    kendall: float
    pearson: float
    mae: float


class JudgeSection(AgreementBlock):
    """One judge: its labels, failures, and (with humans) its agreement with them."""

    judge: str
    n_labels: int
    n_failed: int
    failed_rate: float | None
    alpha_with_humans: Reliability | Undefined | None = None
    alt_test: AltTest | Undefined | None = None
    score_correlations: Correlations | Undefined | None = None
    confusion_vs_majority: Confusion | Undefined | None = None


class RaterCount(_Section):
    annotator: str
    kind: str
    submitted: int
    skipped: int
    failed: int


class Matrix(_Section):
    """Rater x rater percent agreement (with ties) and the number of shared items."""

    raters: list[str]
    agreement: list[list[float | None]]
    n: list[list[int]]


class PositionRow(_Section):
    annotator: str
    kind: str
    p_first: float
    p_first_ci95: Interval | None
    n: int
    n_items: int
    tie_rate: float
    p_a_when_ab: float | None
    p_a_when_ba: float | None


class SwapRow(_Section):
    annotator: str
    n_items: int
    consistency: float
    flip_rate: float


class LengthRow(_Section):
    annotator: str
    kind: str
    n_differ: int
    p_longer: float | None
    p_longer_ci95: Interval | None
    logit_slope: float | None


class SelfPreferenceRow(_Section):
    """On the items both the judge and the humans labeled: the judge's win rate for a generator of its
    own family minus the humans' (families by an explicit map, ``analysis.bias.model_family``)."""

    judge: str
    family: str
    model: str
    judge_win_rate: float
    human_win_rate: float
    self_preference: float
    n_items: int | None = None
    self_preference_ci95: Interval | None = None


class LeniencyRow(_Section):
    """Pairwise tasks: the difference in tie rate; single-answer tasks: mean score and the share
    above the scale's midpoint."""

    judge: str
    n_items: int
    tie_rate_diff: float | None = None
    mean_diff: float | None = None
    positive_rate_diff: float | None = None


class Bias(_Section):
    position: list[PositionRow] | Undefined | None = None
    swap: list[SwapRow] | Undefined | None = None
    length: list[LengthRow] | Undefined | None = None
    self_preference: list[SelfPreferenceRow] | Undefined | None = None
    leniency: list[LeniencyRow] | Undefined | None = None


class Transitivity(_Section):
    n_triples: int
    circular: int
    equivalence_contradictions: int
    violation_rate: float | None


class RankRow(_Section):
    model: str
    bt_score: float
    win_rate: float
    rank: int


class RankingAgreement(_Section):
    n_models: int
    spearman: float | None
    kendall: float | None


class JudgeRanking(_Section):
    ranking: list[RankRow]
    vs_humans: RankingAgreement | None = None


class SystemSection(_Section):
    humans: list[RankRow] | Undefined | None = None
    judges: dict[str, JudgeRanking | Undefined] = {}


class CurveBin(_Section):
    bin: int
    confidence: float
    accuracy: float
    n: int


class CoverageRow(_Section):
    coverage: float
    accuracy: float
    n: int


class Calibration(_Section):
    n: int
    ece: float
    brier: float
    accuracy: float
    curve: list[CurveBin]
    risk_coverage: list[CoverageRow]


class StratumRow(BaseModel):
    """One rater's agreement in one stratum; the stratum's value sits under the field's own name
    (e.g. ``"turn": 2``), so this row allows that one extra key. Undefined strata carry ``error``."""

    model_config = ConfigDict(extra="allow", frozen=True)

    rater: str
    error: str | None = None
    n: int | None = None
    n_items: int | None = None
    agreement: float | None = None
    agreement_ci95: Interval | None = None
    kappa: float | None = None
    kappa_ci95: Interval | None = None
    categories: list[Category] | None = None
    weights: str | None = None
    resampling_unit: str | None = None
    orders: str | None = None
    kappa_form: str | None = None

    def stratum(self, by: str) -> Any:
        return (self.model_extra or {}).get(by)


class Strata(_Section):
    by: str
    rows: list[StratumRow]


class Settings(_Section):
    n_boot: int
    seed: int
    epsilon: float
    length_threshold: float
    ci: str
    resampling_unit: str = "item"  # what every interval of the report resampled: "item" or a cluster field
    orders: str = "combined"  # how a rater labeled in both presented orders counts in agreement
    n_resampling_units: int | None = None


class Report(_Section):
    """Every figure of one task."""

    task: str | None
    protocol: str
    n_items: int
    settings: Settings
    humans: list[str]
    judges: list[str]
    raters: list[RaterCount]
    human_agreement: HumanAgreement | None = None
    human_ceiling: Ceiling | Undefined | None = None
    judges_vs_humans: list[JudgeSection]
    pairwise_matrix: Matrix
    bias: Bias | None = None
    consistency: dict[str, Transitivity | Undefined] | None = None
    system: SystemSection | Undefined | None = None
    calibration: dict[str, Calibration]
    strata: Strata | None = None

    def to_json(self) -> dict[str, Any]:
        """The report as JSON data (``report --json``): absent sections stay absent."""
        return self.model_dump(mode="json", exclude_unset=True)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Report:
        return cls.model_validate(data)
