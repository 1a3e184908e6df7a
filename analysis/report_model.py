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

from pydantic import BaseModel, ConfigDict, Field

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
    # how each interval was made (analysis.intervals: jeffreys-eff, dirichlet-perks, bca) and why it
    # cannot be vouched for (None: it can; e.g. "degenerate: 100% of resamples equal")
    ci_method: str | None = None
    ci_flag: str | None = None
    kappa_ci_method: str | None = None
    kappa_ci_flag: str | None = None
    # against a majority: the fewest votes a majority needs, and the comparisons dropped for want of one
    min_votes: int | None = None
    n_no_majority: int | None = None
    bothbad: str | None = None  # how a both-bad verdict counted: "tie" or "distinct"


class Reliability(_Section):
    """Krippendorff's alpha or Fleiss' kappa of a rater group."""

    metric: str
    value: float
    ci95: Interval | None
    n_items: int
    n_raters: int
    level: str | None = None
    resampling_unit: str | None = None
    ci_method: str | None = None
    ci_flag: str | None = None


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
    mean_agreement_ci95: Interval | None = None
    ci_method: str | None = None
    ci_flag: str | None = None
    n_items: int | None = None


class CeilingDifference(_Section):
    """The judge's pooled agreement with humans minus the humans' with each other, paired CI."""

    judge_agreement: float
    human_agreement: float
    difference: float
    ci95: Interval | None
    n_items: int
    n_judge: int
    n_humans: int
    resampling_unit: str | None = None
    ci_method: str | None = None
    ci_flag: str | None = None


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
    spearman_ci95: Interval | None = None
    kendall_ci95: Interval | None = None
    pearson_ci95: Interval | None = None
    mae_ci95: Interval | None = None
    spearman_ci_flag: str | None = None
    kendall_ci_flag: str | None = None
    pearson_ci_flag: str | None = None
    mae_ci_flag: str | None = None
    resampling_unit: str | None = None


class JudgeSection(AgreementBlock):
    """One judge: its labels, failures, and (with humans) its agreement with them."""

    judge: str
    n_labels: int
    n_failed: int
    failed_rate: float | None
    alpha_with_humans: Reliability | Undefined | None = None
    alt_test: AltTest | Undefined | None = None
    vs_ceiling: CeilingDifference | Undefined | None = None
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
    ci95: list[list[Interval | None]] | None = None  # each cell's 95% CI (None on the diagonal)
    ci_flags: list[list[str | None]] | None = None


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
    consistency_ci95: Interval | None = None
    ci_method: str | None = None
    ci_flag: str | None = None


class LengthRow(_Section):
    annotator: str
    kind: str
    n_differ: int
    p_longer: float | None
    p_longer_ci95: Interval | None
    logit_slope: float | None
    logit_slope_ci95: Interval | None = None
    logit_slope_ci_flag: str | None = None


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
    tie_rate_diff_ci95: Interval | None = None
    mean_diff_ci95: Interval | None = None
    positive_rate_diff_ci95: Interval | None = None
    tie_rate_diff_ci_flag: str | None = None
    mean_diff_ci_flag: str | None = None
    positive_rate_diff_ci_flag: str | None = None


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
    bt_score_ci95: Interval | None = None
    ci_flag: str | None = None


class RankingAgreement(_Section):
    n_models: int
    spearman: float | None
    kendall: float | None
    spearman_ci95: Interval | None = None
    kendall_ci95: Interval | None = None
    spearman_ci_flag: str | None = None
    kendall_ci_flag: str | None = None


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
    n_items: int | None = None
    ece_ci95: Interval | None = None
    brier_ci95: Interval | None = None
    accuracy_ci95: Interval | None = None
    ece_ci_flag: str | None = None
    brier_ci_flag: str | None = None
    accuracy_ci_flag: str | None = None


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
    ci_method: str | None = None
    ci_flag: str | None = None
    kappa_ci_method: str | None = None
    kappa_ci_flag: str | None = None
    dropped_share: float | None = None
    tie_share_a: float | None = None
    tie_share_b: float | None = None
    min_votes: int | None = None
    n_no_majority: int | None = None
    bothbad: str | None = None

    def stratum(self, by: str) -> Any:
        return (self.model_extra or {}).get(by)


class Heterogeneity(_Section):
    """Cochran's Q across one rater's strata (``analysis.strata.heterogeneity``) and its pooled figure."""

    rater: str
    q: float | None
    df: int
    p_value: float | None
    n_strata: int
    pooled_agreement: float | None = None


class Strata(_Section):
    by: str
    rows: list[StratumRow]
    note: str | None = None  # "exploratory: ...": the table's intervals are per stratum, not simultaneous
    heterogeneity: list[Heterogeneity] = []


class Settings(_Section):
    n_boot: int
    seed: int
    epsilon: float
    length_threshold: float
    ci: str
    resampling_unit: str = "item"  # what every interval of the report resampled: "item" or a cluster field
    orders: str = "combined"  # how a rater labeled in both presented orders counts in agreement
    n_resampling_units: int | None = None
    min_votes: int | None = None  # the fewest votes a per-item majority needs
    bothbad: str | None = None  # how a both-bad verdict counts in agreement: "tie" or "distinct"


class QuestionInfo(_Section):
    """The question a report is about: its name, kind and level of measurement."""

    name: str
    kind: str
    level: str


class PassRate(_Section):
    rater: str
    n_items: int
    n_entries: int
    pass_rate: float | None
    pass_rate_ci95: Interval | None = None
    ci_flag: str | None = None
    ci_method: str | None = None


class ChecklistSection(_Section):
    """A checklist question: entries and items, and each rater's item-level pass rate."""

    n_items: int
    n_entries: int
    unit: str
    pass_rate: list[PassRate]


class HumanOnlyEstimate(_Section):
    """The mean of the human values on the items humans labeled, with its normal 95% interval."""

    estimate: float | None
    ci95: Interval | None
    n: int
    ci_method: str
    ci_flag: str | None = None


class JudgeOnlyEstimate(_Section):
    """The judge's labels alone on every item: biased by the judge's error, no interval claimed."""

    estimate: float | None
    n: int
    biased: bool
    note: str


class AssistedEstimate(_Section):
    """PPI++: the judge on every item, corrected by its error on the human-labeled items."""

    model_config = ConfigDict(extra="forbid", frozen=True, serialize_by_alias=True, validate_by_name=True)

    estimate: float | None
    ci95: Interval | None
    n_human: int
    n_judge: int
    lam: float | None = Field(default=None, alias="lambda")  # the power tuning (0: human-only, 1: PPI)
    ci_method: str
    ci_flag: str | None = None


class PlanRow(_Section):
    """The human-labeled items a 95% interval of ``width`` needs (``judgelab plan``): None when even
    every item labeled by humans would not reach it, or the relation cannot be measured yet."""

    width: float
    human_only: int | None
    ppi: int | None
    n_human_now: int


class EstimateRow(_Section):
    """One judge and one target: the three estimates side by side (``judgelab estimate``)."""

    judge: str
    target: str
    human_only: HumanOnlyEstimate
    judge_only: JudgeOnlyEstimate
    ppi: AssistedEstimate
    effective_n_human: float | None
    width_ratio: float | None
    n_items_without_judge: int
    plan: PlanRow | None = None


class Estimates(_Section):
    """What the humans would say about every item (``analysis.judge_assisted.win_rates``): each
    judge x the most compared models' win rates, with which human labels counted and why."""

    counting: str
    used_human_labels: int
    left_out_human_labels: int
    selection_rule: str
    skip_rate: float
    warnings: list[str]
    rows: list[EstimateRow]


class Report(_Section):
    """Every figure of one task (of one question of it)."""

    task: str | None
    protocol: str
    n_items: int
    question: QuestionInfo | None = None
    checklist: ChecklistSection | None = None
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
    estimates: Estimates | Undefined | None = None

    def flags(self) -> list[tuple[str, str]]:
        """Every interval of the report that cannot be vouched for: (where, why), ``where`` the path
        of the figure (``judges_vs_humans[gpt].with_ties.kappa``), ``why`` its ``ci_flag``."""
        found: list[tuple[str, str]] = []
        _walk_flags(self, "", found)
        return found

    def to_json(self) -> dict[str, Any]:
        """The report as JSON data (``report --json``): absent sections stay absent."""
        return self.model_dump(mode="json", exclude_unset=True)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Report:
        return cls.model_validate(data)


def _label(item: object, index: int) -> str:
    for key in ("judge", "annotator", "rater"):
        value = getattr(item, key, None)
        if isinstance(value, str):
            return value
    return str(index)


def _main_figure(node: BaseModel) -> str:
    metric = getattr(node, "metric", None)
    if isinstance(metric, str):
        return metric
    return "agreement" if hasattr(node, "agreement") else "estimate"


def _walk_flags(node: object, path: str, found: list[tuple[str, str]]) -> None:
    if isinstance(node, BaseModel):
        fields = dict(node)
        for name, value in fields.items():
            if name == "ci_flags" and isinstance(value, list) and isinstance(node, Matrix):
                raters = node.raters
                for i, row in enumerate(value):
                    for j, flag in enumerate(row):
                        if flag and i < j:
                            found.append((f"{path}.{name}[{raters[i]} vs {raters[j]}]".lstrip("."), flag))
            elif name.endswith("ci_flag") and isinstance(value, str):
                figure = name.removesuffix("ci_flag").rstrip("_") or _main_figure(node)
                found.append((f"{path}.{figure}".lstrip("."), value))
            else:
                _walk_flags(value, f"{path}.{name}", found)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            _walk_flags(item, f"{path}[{_label(item, i)}]", found)
    elif isinstance(node, dict):
        for key, value in node.items():
            _walk_flags(value, f"{path}[{key}]", found)


class OverallRow(_Section):
    """One (question, judge) of a task of several questions."""

    question: str
    kind: str | None
    judge: str
    n: int | None = None
    agreement: float | None = None
    agreement_ci95: Interval | None = None
    kappa: float | None = None
    kappa_ci95: Interval | None = None
    alpha_with_humans: float | None = None
    alt_test_passed: bool | None = None
    alt_test_winning_rate: float | None = None
    error: str | None = None


class JudgeQuestions(_Section):
    judge: str
    questions: dict[str, JudgeSection]


class TaskReport(_Section):
    """Every figure of a task of several questions: each question's report, and across them."""

    task: str | None
    protocol: str | None = None
    n_items: int
    humans: list[str]
    judges: list[str]
    questions: dict[str, Report]
    overall: list[OverallRow]
    judges_vs_humans: list[JudgeQuestions]

    def flags(self) -> list[tuple[str, str]]:
        return [(f"questions[{name}].{where}", why) for name, r in self.questions.items() for where, why in r.flags()]

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_unset=True)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TaskReport:
        return cls.model_validate(data)
