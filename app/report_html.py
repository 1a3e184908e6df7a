"""The report as one self-contained HTML file: plotly.js inline once, every figure and table from
the report dict, all text escaped (data and rater names are never markup)."""

from __future__ import annotations

import html
from typing import Any

from analysis.plots import all_figures

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; padding-bottom: .2em; }
table { border-collapse: collapse; margin: .5em 0 1em; font-size: .92em; }
th, td { border: 1px solid #ddd; padding: .3em .6em; text-align: right; overflow-wrap: anywhere; }
th:first-child, td:first-child { text-align: left; } th { background: #f4f4f8; }
.note { color: #555; font-size: .9em; } .pass { color: #0a7a2a; font-weight: 600; } .fail { color: #a61b1b; }
"""


HEADLINE = [
    "rater",
    "agreement with ties",
    "without ties",
    "kappa",
    "alpha (with humans)",
    "n",
    "vs human majority",
    "alternative annotator test",
]


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _num(value: object, digits: int = 3) -> str:
    return f"{value:.{digits}f}" if isinstance(value, (int, float)) else "n/a"


def _ci(block: dict[str, Any], key: str = "agreement") -> str:
    if not isinstance(block, dict) or "error" in block:
        return f"<span class='note'>undefined: {_e(block.get('error') if isinstance(block, dict) else '')}</span>"
    lo, hi = block.get(f"{key}_ci95") or [None, None]
    return f"{_num(block.get(key))} [{_num(lo)}, {_num(hi)}]"


def _kappa(block: dict[str, Any]) -> str:
    if not isinstance(block, dict) or "error" in block or block.get("kappa") is None:
        return "n/a"
    lo, hi = block.get("kappa_ci95") or [None, None]
    return f"{_num(block['kappa'])} [{_num(lo)}, {_num(hi)}]"


def headline_rows(report: dict[str, Any]) -> list[list[str]]:
    """Each judge against the humans (and the humans among themselves), as table cells."""
    rows = []
    ha = report.get("human_agreement")
    if isinstance(ha, dict):
        rows.append(
            [
                "humans vs humans",
                _ci(ha.get("with_ties", {})),
                _ci(ha.get("without_ties", {})),
                _kappa(ha.get("with_ties", {})),
                _num((ha.get("alpha") or {}).get("value")),
                str((ha.get("with_ties") or {}).get("n", "")),
                "",
                "",
            ]
        )
    for j in report.get("judges_vs_humans", []):
        alt = j.get("alt_test", {})
        if "error" in alt:
            verdict = "<span class='note'>" + _e(alt.get("error")) + "</span>"
        else:
            passed = bool(alt.get("passed"))
            verdict = (
                f"<span class='{'pass' if passed else 'fail'}'>{'passes' if passed else 'does not pass'}</span>"
                f" (winning rate {_num(alt.get('winning_rate'), 2)}, "
                f"advantage {_num(alt.get('advantage_probability'))})"
            )
        rows.append(
            [
                _e(j["judge"]),
                _ci(j.get("with_ties", {})),
                _ci(j.get("without_ties", {})),
                _kappa(j.get("with_ties", {})),
                _num((j.get("alpha_with_humans") or {}).get("value")),
                str((j.get("with_ties") or {}).get("n", "")),
                _ci(j.get("majority", {})),
                verdict,
            ]
        )
    return rows


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(report: dict[str, Any]) -> str:
    figures = all_figures(report)
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>judgelab report: {_e(report.get('task'))}"
        f"</title><style>{STYLE}</style></head><body>",
        f"<h1>judgelab report: {_e(report.get('task'))}</h1>",
        f"<p class='note'>{_e(report.get('protocol'))} task, {_e(report.get('n_items'))} items; humans: "
        f"{_e(', '.join(report.get('humans', [])))}; judges: {_e(', '.join(report.get('judges', [])))}. "
        f"CIs: {_e(report['settings']['ci'])}, {_e(report['settings']['n_boot'])} resamples, seed "
        f"{_e(report['settings']['seed'])}.</p>",
        "<h2>Judges against humans</h2>",
        _table(HEADLINE, headline_rows(report)),
    ]
    ceiling = report.get("human_ceiling")
    if isinstance(ceiling, dict) and "per_human" in ceiling:
        parts.append(
            f"<p>Human ceiling (each human against the rest): mean agreement "
            f"{_num(ceiling['mean_agreement'])}, mean kappa {_num(ceiling.get('mean_kappa'))}.</p>"
        )
    parts.append(
        "<h2>Raters</h2>"
        + _table(
            ["rater", "kind", "submitted", "skipped", "failed"],
            [
                [_e(r["annotator"]), _e(r["kind"]), str(r["submitted"]), str(r["skipped"]), str(r["failed"])]
                for r in report.get("raters", [])
            ],
        )
    )
    bias = report.get("bias", {})
    if isinstance(bias.get("swap"), list) and bias["swap"]:
        parts.append(
            "<h2>Swap consistency</h2>"
            + _table(
                ["rater", "items in both orders", "consistency", "flip rate"],
                [
                    [_e(s["annotator"]), str(s["n_items"]), _num(s["consistency"]), _num(s["flip_rate"])]
                    for s in bias["swap"]
                ],
            )
        )
    parts.append("<h2>Figures</h2>")
    first = True
    for name, fig in figures.items():
        parts.append(f"<div class='figure' id='fig-{_e(name)}'>")
        parts.append(fig.to_html(full_html=False, include_plotlyjs=bool(first), config={"displaylogo": False}))
        parts.append("</div>")
        first = False
    parts.append(
        "<p class='note'>Made by judgelab. The meaning of every figure: README, 'What the numbers "
        "mean'.</p></body></html>"
    )
    return "\n".join(parts)
