"""Plotly figures drawn from the typed report (:class:`analysis.report_model.Report`). Draw only: no
computation beyond picking numbers out of the report."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go

from analysis.report_model import (
    Agreement,
    Confusion,
    Interval,
    JudgeRanking,
    JudgeSection,
    LengthRow,
    PositionRow,
    Report,
    SystemSection,
)


def _t(text: object) -> str:
    """A data string as plotly text: plotly reads a little HTML in labels, so escape its brackets."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_LAYOUT: dict[str, Any] = {"template": "plotly_white", "margin": {"l": 60, "r": 20, "t": 50, "b": 60}, "height": 420}


def _error_bars(values: Sequence[float], cis: Sequence[Interval | None]) -> dict[str, Any]:
    """Asymmetric error bars from 95% intervals; a figure without an interval (n_boot = 0) gets none."""
    highs = [0.0 if ci is None or ci[1] is None else ci[1] - v for v, ci in zip(values, cis, strict=True)]
    lows = [0.0 if ci is None or ci[0] is None else v - ci[0] for v, ci in zip(values, cis, strict=True)]
    return {"type": "data", "symmetric": False, "array": highs, "arrayminus": lows}


def agreement_heatmap(report: Report) -> go.Figure:
    m = report.pairwise_matrix
    text = [
        [("" if a is None else f"{a:.2f}") + f"<br>n={n}" for a, n in zip(ra, rn, strict=True)]
        for ra, rn in zip(m.agreement, m.n, strict=True)
    ]
    fig = go.Figure(
        go.Heatmap(
            z=m.agreement,
            x=[_t(r) for r in m.raters],
            y=[_t(r) for r in m.raters],
            text=text,
            texttemplate="%{text}",
            colorscale="Blues",
            zmin=0,
            zmax=1,
            colorbar={"title": "agreement"},
        )
    )
    fig.update_layout(title="Percent agreement between raters (with ties)", **_LAYOUT)
    return fig


def confusion_matrix(judge: str, conf: Confusion) -> go.Figure:
    fig = go.Figure(
        go.Heatmap(
            z=conf.matrix,
            x=[_t(c) for c in conf.categories],
            y=[_t(c) for c in conf.categories],
            colorscale="Purples",
            texttemplate="%{z}",
            showscale=False,
        )
    )
    fig.update_layout(
        title=f"{_t(judge)} (columns) vs human majority (rows)",
        xaxis_title=_t(judge),
        yaxis_title="human majority",
        **_LAYOUT,
    )
    return fig


def forest(report: Report, key: str = "with_ties") -> go.Figure:
    """Agreement with 95% CIs: each judge against the humans, next to the human-human figure."""
    rows: list[tuple[str, object]] = []
    if report.human_agreement is not None:
        rows.append(("humans vs humans", getattr(report.human_agreement, key)))
    rows += [(f"{j.judge} vs humans", getattr(j, key)) for j in report.judges_vs_humans]
    shown = [(name, block) for name, block in rows if isinstance(block, Agreement)]
    values = [block.agreement for _, block in shown]
    fig = go.Figure(
        go.Scatter(
            x=values,
            y=[_t(name) for name, _ in shown],
            mode="markers",
            marker={"size": 11},
            error_x=_error_bars(values, [block.agreement_ci95 for _, block in shown]),
        )
    )
    fig.update_layout(title=f"Agreement ({key.replace('_', ' ')}), 95% CI", xaxis={"range": [0, 1]}, **_LAYOUT)
    return fig


def _rate_bars(
    names: list[str], kinds: list[str], values: list[float], cis: list[Interval | None], title: str
) -> go.Figure:
    """A rate per rater with its 95% CI, humans blue and judges orange, 0.5 marked as no bias."""
    fig = go.Figure(
        go.Bar(
            x=[_t(n) for n in names],
            y=values,
            marker_color=["#4c78a8" if k == "human" else "#f58518" for k in kinds],
            error_y=_error_bars(values, cis),
        )
    )
    fig.add_hline(y=0.5, line_dash="dash", annotation_text="no bias")
    fig.update_layout(title=title, yaxis={"range": [0, 1]}, **_LAYOUT)
    return fig


def position_bias(report: Report) -> go.Figure:
    rows: list[PositionRow] = report.bias.position if report.bias and isinstance(report.bias.position, list) else []
    return _rate_bars(
        [r.annotator for r in rows],
        [r.kind for r in rows],
        [r.p_first for r in rows],
        [r.p_first_ci95 for r in rows],
        "Position bias: P(first-shown answer chosen)",
    )


def length_bias(report: Report) -> go.Figure:
    rows: list[LengthRow] = report.bias.length if report.bias and isinstance(report.bias.length, list) else []
    shown = [r for r in rows if r.p_longer is not None]
    return _rate_bars(
        [r.annotator for r in shown],
        [r.kind for r in shown],
        [float(r.p_longer or 0.0) for r in shown],
        [r.p_longer_ci95 for r in shown],
        "Length bias: P(longer answer chosen)",
    )


def calibration_curves(report: Report) -> go.Figure:
    fig = go.Figure(
        go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dash", "color": "grey"}, name="perfect")
    )
    for rater, cal in report.calibration.items():
        fig.add_trace(
            go.Scatter(
                x=[c.confidence for c in cal.curve],
                y=[c.accuracy for c in cal.curve],
                mode="lines+markers",
                name=f"{_t(rater)} (ECE {cal.ece:.3f})",
            )
        )
    fig.update_layout(
        title="Calibration against the human majority",
        xaxis_title="stated confidence",
        yaxis_title="accuracy",
        **_LAYOUT,
    )
    return fig


def system_ranking(report: Report) -> go.Figure:
    fig = go.Figure()
    system = report.system
    if isinstance(system, SystemSection):
        if isinstance(system.humans, list):
            humans = system.humans
            fig.add_trace(go.Bar(x=[_t(r.model) for r in humans], y=[r.bt_score for r in humans], name="humans"))
        for judge, entry in system.judges.items():
            if isinstance(entry, JudgeRanking):
                fig.add_trace(
                    go.Bar(
                        x=[_t(r.model) for r in entry.ranking], y=[r.bt_score for r in entry.ranking], name=_t(judge)
                    )
                )
    fig.update_layout(
        title="System ranking: Bradley-Terry scores", barmode="group", yaxis_title="log-strength", **_LAYOUT
    )
    return fig


def _confusions(sections: list[JudgeSection]) -> dict[str, go.Figure]:
    return {
        f"confusion_{s.judge}": confusion_matrix(s.judge, s.confusion_vs_majority)
        for s in sections
        if isinstance(s.confusion_vs_majority, Confusion)
    }


def all_figures(report: Report) -> dict[str, go.Figure]:
    """Every figure the report supports, by name."""
    figs = {"agreement_heatmap": agreement_heatmap(report), "agreement_forest": forest(report)}
    if report.bias is not None and report.bias.position is not None:
        figs["position_bias"] = position_bias(report)
        figs["length_bias"] = length_bias(report)
    figs.update(_confusions(report.judges_vs_humans))
    if report.calibration:
        figs["calibration"] = calibration_curves(report)
    if isinstance(report.system, SystemSection) and report.system.humans is not None:
        figs["system_ranking"] = system_ranking(report)
    return figs
