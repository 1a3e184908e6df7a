"""The report as one self-contained HTML file: plotly.js inline once, every figure and table from
the typed report, rendered by a Jinja2 template with autoescape (data and rater names are never
markup; only plotly's own figure HTML is marked safe)."""

from __future__ import annotations

from functools import lru_cache

from jinja2 import Environment, PackageLoader, select_autoescape

from analysis.plots import all_figures
from analysis.report_model import Ceiling, Report
from app.headline import HEADERS, flag_lines, headline_rows
from app.report_text import more_sections


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("app", "templates"),
        autoescape=select_autoescape(["html", "j2"], default=True),
        keep_trailing_newline=True,
    )


def render_html(report: Report) -> str:
    figures = [
        (name, fig.to_html(full_html=False, include_plotlyjs=i == 0, config={"displaylogo": False}))
        for i, (name, fig) in enumerate(all_figures(report).items())
    ]
    swap = report.bias.swap if report.bias is not None and isinstance(report.bias.swap, list) else []
    ceiling = report.human_ceiling if isinstance(report.human_ceiling, Ceiling) else None
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            report=report,
            headers=HEADERS,
            headline=headline_rows(report),
            flags=flag_lines(report),
            ceiling=ceiling,
            swap=swap,
            figures=figures,
            more=more_sections(report),
        )
    )
