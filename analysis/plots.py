"""Plotly figures drawn from the report dict (``analysis.report.build_report``). Draw only: no
computation beyond picking numbers out of the report."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go


def _t(text: object) -> str:
    """A data string as plotly text: plotly reads a little HTML in labels, so escape its brackets."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_LAYOUT: dict[str, Any] = {"template": "plotly_white", "margin": {"l": 60, "r": 20, "t": 50, "b": 60}, "height": 420}


def agreement_heatmap(report: dict[str, Any]) -> go.Figure:
    m = report["pairwise_matrix"]
    text = [
        [("" if a is None else f"{a:.2f}") + f"<br>n={n}" for a, n in zip(ra, rn, strict=True)]
        for ra, rn in zip(m["agreement"], m["n"], strict=True)
    ]
    fig = go.Figure(
        go.Heatmap(
            z=m["agreement"],
            x=m["raters"],
            y=m["raters"],
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


def confusion_matrix(section: dict[str, Any]) -> go.Figure:
    conf = section["confusion_vs_majority"]
    fig = go.Figure(
        go.Heatmap(
            z=conf["matrix"],
            x=conf["categories"],
            y=conf["categories"],
            colorscale="Purples",
            texttemplate="%{z}",
            showscale=False,
        )
    )
    fig.update_layout(
        title=f"{section['judge']} (columns) vs human majority (rows)",
        xaxis_title=section["judge"],
        yaxis_title="human majority",
        **_LAYOUT,
    )
    return fig


def forest(report: dict[str, Any], key: str = "with_ties") -> go.Figure:
    """Agreement with 95% CIs: each judge against the humans, next to the human-human figure."""
    names, values, lows, highs = [], [], [], []
    rows = [("humans vs humans", report.get("human_agreement", {}).get(key))]
    rows += [(f"{j['judge']} vs humans", j.get(key)) for j in report["judges_vs_humans"]]
    for name, block in rows:
        if isinstance(block, dict) and "agreement" in block:
            low, high = block.get("agreement_ci95") or (None, None)
            names.append(_t(name))
            values.append(block["agreement"])
            lows.append(0.0 if low is None else block["agreement"] - low)
            highs.append(0.0 if high is None else high - block["agreement"])
    fig = go.Figure(
        go.Scatter(
            x=values,
            y=names,
            mode="markers",
            marker={"size": 11},
            error_x={"type": "data", "symmetric": False, "array": highs, "arrayminus": lows},
        )
    )
    fig.update_layout(title=f"Agreement ({key.replace('_', ' ')}), 95% CI", xaxis={"range": [0, 1]}, **_LAYOUT)
    return fig


def _rate_bars(rows: list[dict[str, Any]], key: str, title: str) -> go.Figure:
    """A rate per rater with its 95% CI, humans blue and judges orange, 0.5 marked as no bias."""
    fig = go.Figure(
        go.Bar(
            x=[_t(r["annotator"]) for r in rows],
            y=[r[key] for r in rows],
            marker_color=["#4c78a8" if r["kind"] == "human" else "#f58518" for r in rows],
            error_y={
                "type": "data",
                "symmetric": False,
                "array": [0.0 if r[f"{key}_ci95"][1] is None else r[f"{key}_ci95"][1] - r[key] for r in rows],
                "arrayminus": [0.0 if r[f"{key}_ci95"][0] is None else r[key] - r[f"{key}_ci95"][0] for r in rows],
            },
        )
    )
    fig.add_hline(y=0.5, line_dash="dash", annotation_text="no bias")
    fig.update_layout(title=title, yaxis={"range": [0, 1]}, **_LAYOUT)
    return fig


def position_bias(report: dict[str, Any]) -> go.Figure:
    rows = report.get("bias", {}).get("position", [])
    return _rate_bars(rows if isinstance(rows, list) else [], "p_first", "Position bias: P(first-shown answer chosen)")


def length_bias(report: dict[str, Any]) -> go.Figure:
    rows = report.get("bias", {}).get("length", [])
    rows = [r for r in rows if r.get("p_longer") is not None] if isinstance(rows, list) else []
    return _rate_bars(rows, "p_longer", "Length bias: P(longer answer chosen)")


def calibration_curves(report: dict[str, Any]) -> go.Figure:
    fig = go.Figure(
        go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dash", "color": "grey"}, name="perfect")
    )
    for rater, cal in report.get("calibration", {}).items():
        fig.add_trace(
            go.Scatter(
                x=[c["confidence"] for c in cal["curve"]],
                y=[c["accuracy"] for c in cal["curve"]],
                mode="lines+markers",
                name=f"{_t(rater)} (ECE {cal['ece']:.3f})",
            )
        )
    fig.update_layout(
        title="Calibration against the human majority",
        xaxis_title="stated confidence",
        yaxis_title="accuracy",
        **_LAYOUT,
    )
    return fig


def system_ranking(report: dict[str, Any]) -> go.Figure:
    fig = go.Figure()
    sysrep = report.get("system", {})
    humans = sysrep.get("humans")
    if isinstance(humans, list):
        fig.add_trace(go.Bar(x=[r["model"] for r in humans], y=[r["bt_score"] for r in humans], name="humans"))
    for judge, entry in sysrep.get("judges", {}).items():
        if isinstance(entry, dict) and "ranking" in entry:
            fig.add_trace(
                go.Bar(
                    x=[r["model"] for r in entry["ranking"]], y=[r["bt_score"] for r in entry["ranking"]], name=judge
                )
            )
    fig.update_layout(
        title="System ranking: Bradley-Terry scores", barmode="group", yaxis_title="log-strength", **_LAYOUT
    )
    return fig


def all_figures(report: dict[str, Any]) -> dict[str, go.Figure]:
    """Every figure the report supports, by name."""
    figs = {"agreement_heatmap": agreement_heatmap(report), "agreement_forest": forest(report)}
    if "bias" in report and "position" in report["bias"]:
        figs["position_bias"] = position_bias(report)
        figs["length_bias"] = length_bias(report)
    for section in report["judges_vs_humans"]:
        if isinstance(section.get("confusion_vs_majority"), dict) and "matrix" in section["confusion_vs_majority"]:
            figs[f"confusion_{section['judge']}"] = confusion_matrix(section)
    if report.get("calibration"):
        figs["calibration"] = calibration_curves(report)
    if isinstance(report.get("system"), dict) and "humans" in report["system"]:
        figs["system_ranking"] = system_ranking(report)
    return figs
