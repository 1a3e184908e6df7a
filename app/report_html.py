"""The report as one self-contained HTML file: plotly.js inline once, every figure and table from
the typed report, rendered by a Jinja2 template with autoescape (data and rater names are never
markup; only plotly's own figure HTML is marked safe)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from analysis.plots import all_figures
from analysis.report_model import Ceiling, Report, TaskReport
from app.headline import HEADERS, flag_lines, headline_rows
from app.report_text import more_sections
from app.tables import checklist_rows, overall_cells


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("app", "templates"),
        autoescape=select_autoescape(["html", "j2"], default=True),
        keep_trailing_newline=True,
    )


def render_html(report: Report | TaskReport) -> str:
    """The report as one self-contained HTML file; a task of several questions has the table across
    questions first, then every question's sections (plotly.js inline once)."""
    questions = report.questions if isinstance(report, TaskReport) else {"": report}
    parts = [_part(name, r, first=i == 0) for i, (name, r) in enumerate(questions.items())]
    overall = [overall_cells(row) for row in report.overall] if isinstance(report, TaskReport) else []
    return (
        _environment().get_template("report.html.j2").render(task=report, headers=HEADERS, parts=parts, overall=overall)
    )


def _part(name: str, report: Report, *, first: bool) -> dict[str, Any]:
    figures = [
        (fig_name, fig.to_html(full_html=False, include_plotlyjs=first and i == 0, config={"displaylogo": False}))
        for i, (fig_name, fig) in enumerate(all_figures(report).items())
    ]
    swap = report.bias.swap if report.bias is not None and isinstance(report.bias.swap, list) else []
    question = report.question
    return {
        "report": report,
        "prefix": f"{name}-" if name else "",
        "title": f"{name} ({question.kind})" if question else name,
        "headline": headline_rows(report),
        "flags": flag_lines(report),
        "ceiling": report.human_ceiling if isinstance(report.human_ceiling, Ceiling) else None,
        "swap": swap,
        "figures": figures,
        "more": more_sections(report),
        "checklist": checklist_rows(report),
    }
