"""The headline table: each judge against the humans (and the humans among themselves), as plain
text cells. The HTML report and the dashboard both show it; neither parses markup back out."""

from __future__ import annotations

import html
from dataclasses import dataclass

from analysis.report_model import Agreement, AltTest, CeilingDifference, Interval, Reliability, Report, Undefined

HEADERS = (
    "rater",
    "agreement with ties",
    "without ties",
    "kappa",
    "alpha (with humans)",
    "n",
    "vs human majority",
    "minus human ceiling",
    "alternative annotator test",
)


@dataclass(frozen=True)
class HeadlineRow:
    rater: str
    with_ties: str
    without_ties: str
    kappa: str
    alpha: str
    n: str
    vs_majority: str
    vs_ceiling: str
    verdict: str
    verdict_class: str  # "pass", "fail" or "note": how the HTML report styles the verdict

    def cells(self) -> list[str]:
        return [
            self.rater,
            self.with_ties,
            self.without_ties,
            self.kappa,
            self.alpha,
            self.n,
            self.vs_majority,
            self.vs_ceiling,
            self.verdict,
        ]


FLAG_MARK = " (flagged)"  # after an interval that cannot be vouched for; flag_lines() says why


def flag_lines(report: Report) -> list[str]:
    """One line per flagged interval of the report: where it is, and why it is flagged."""
    return [f"{where}: {why}" for where, why in report.flags()]


def flag_summary(report: Report) -> str:
    """A sentence counting the flagged intervals (empty when there are none)."""
    flags = report.flags()
    if not flags:
        return ""
    return (
        f"{len(flags)} interval{'s' if len(flags) != 1 else ''} flagged as not vouched for "
        "(too few resampling units, degenerate or undefined resamples): " + "; ".join(flag_lines(report))
    )


def _num(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _interval(ci: Interval | None) -> str:
    return "" if ci is None or ci[0] is None else f" [{_num(ci[0])}, {_num(ci[1])}]"


def _agreement(block: Agreement | Undefined | None) -> str:
    if block is None:
        return ""
    if isinstance(block, Undefined):
        return f"undefined: {block.error}"
    dropped = "" if block.dropped_share is None else f" (dropped {block.dropped_share:.0%})"
    mark = FLAG_MARK if block.ci_flag else ""
    return f"{_num(block.agreement)}{_interval(block.agreement_ci95)}{mark}{dropped}"


def _kappa(block: Agreement | Undefined | None) -> str:
    if not isinstance(block, Agreement) or block.kappa is None:
        return "n/a"
    mark = FLAG_MARK if block.kappa_ci_flag else ""
    return f"{_num(block.kappa)}{_interval(block.kappa_ci95)}{mark}"


def _alpha(block: Reliability | Undefined | None) -> str:
    if not isinstance(block, Reliability):
        return "n/a"
    return f"{_num(block.value)}{_interval(block.ci95)}{FLAG_MARK if block.ci_flag else ''}"


def _n(block: Agreement | Undefined | None) -> str:
    return str(block.n) if isinstance(block, Agreement) else ""


def _ceiling(block: CeilingDifference | Undefined | None) -> str:
    if block is None:
        return ""
    if isinstance(block, Undefined):
        return f"undefined: {block.error}"
    mark = FLAG_MARK if block.ci_flag else ""
    return f"{block.difference:+.3f}{_interval(block.ci95)}{mark}"


def _verdict(alt: AltTest | Undefined | None) -> tuple[str, str]:
    if alt is None:
        return "", "note"
    if isinstance(alt, Undefined):
        return alt.error, "note"
    text = (
        f"{'passes' if alt.passed else 'does not pass'} (winning rate {_num(alt.winning_rate, 2)}, "
        f"advantage {_num(alt.advantage_probability)})"
    )
    return text, "pass" if alt.passed else "fail"


def headline_rows(report: Report) -> list[HeadlineRow]:
    rows = []
    ha = report.human_agreement
    if ha is not None:
        rows.append(
            HeadlineRow(
                "humans vs humans",
                _agreement(ha.with_ties),
                _agreement(ha.without_ties),
                _kappa(ha.with_ties),
                _alpha(ha.alpha),
                _n(ha.with_ties),
                "",
                "",
                "",
                "note",
            )
        )
    for j in report.judges_vs_humans:
        verdict, css = _verdict(j.alt_test)
        rows.append(
            HeadlineRow(
                j.judge,
                _agreement(j.with_ties),
                _agreement(j.without_ties),
                _kappa(j.with_ties),
                _alpha(j.alpha_with_humans),
                _n(j.with_ties),
                _agreement(j.majority),
                _ceiling(j.vs_ceiling),
                verdict,
                css,
            )
        )
    return rows


def headline_html(report: Report) -> str:
    """The headline table as HTML for the dashboard: every cell escaped (rater names are data), the
    columns sized to the page (the verdict wraps instead of running off-screen)."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in HEADERS)
    body = "".join(
        f'<tr class="jl-{row.verdict_class}">'
        + "".join(f"<td>{html.escape(cell)}</td>" for cell in row.cells())
        + "</tr>"
        for row in headline_rows(report)
    )
    if not body:
        body = f'<tr><td colspan="{len(HEADERS)}">no judge or human agreement to show yet</td></tr>'
    return f'<table class="jl-table jl-headline"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
