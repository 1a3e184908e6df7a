"""The report as plain text for the terminal."""

from __future__ import annotations

from typing import Any


def _ci(ci: Any) -> str:
    """`` [low, high]``, or nothing when the report has no interval (``--n-boot 0``)."""
    if not ci or ci[0] is None or ci[1] is None:
        return ""
    return f" [{ci[0]:.3f}, {ci[1]:.3f}]"


def _fmt(block: Any, key: str = "agreement") -> str:
    if not isinstance(block, dict):
        return "n/a"
    if "error" in block:
        return f"undefined ({block['error']})"
    ci = block.get(f"{key}_ci95")
    kappa = block.get("kappa")
    text = f"{block[key]:.3f}" + _ci(ci)
    if kappa is not None:
        text += f", kappa {kappa:.3f}"
    return text + f" (n={block['n']}, items={block['n_items']})"


def render_text(report: dict[str, Any]) -> str:
    lines = [
        f"task {report['task']} ({report['protocol']}): {report['n_items']} items; "
        f"humans {report['humans']}; judges {report['judges']}"
    ]
    for r in report["raters"]:
        lines.append(
            f"  {r['annotator']} ({r['kind']}): {r['submitted']} submitted, {r['skipped']} skipped, "
            f"{r['failed']} failed"
        )
    if "human_agreement" in report:
        ha = report["human_agreement"]
        lines.append("humans vs humans:")
        lines.append(f"  with ties      {_fmt(ha['with_ties'])}")
        if "without_ties" in ha:
            lines.append(f"  without ties   {_fmt(ha['without_ties'])}")
        for key in ("alpha", "fleiss"):
            block = ha.get(key, {})
            if "error" not in block:
                lines.append(f"  {block['metric']} {block['value']:.3f}{_ci(block.get('ci95'))}")
    ceiling = report.get("human_ceiling")
    if isinstance(ceiling, dict) and "mean_agreement" in ceiling:
        lines.append(f"human ceiling (each human vs the rest): mean agreement {ceiling['mean_agreement']:.3f}")
    for j in report["judges_vs_humans"]:
        lines.append(f"judge {j['judge']}: {j['n_labels']} labels, {j['n_failed']} failed")
        for key, title in (("with_ties", "with ties"), ("without_ties", "without ties"), ("majority", "vs majority")):
            if key in j:
                lines.append(f"  {title:14s} {_fmt(j[key])}")
        alt = j.get("alt_test")
        if isinstance(alt, dict):
            lines.append(
                "  alt-test: "
                + (
                    f"undefined ({alt['error']})"
                    if "error" in alt
                    else f"winning rate {alt['winning_rate']:.2f}, advantage probability "
                    f"{alt['advantage_probability']:.3f} -> {'PASSES' if alt['passed'] else 'does not pass'} "
                    f"(epsilon {alt['epsilon']})"
                )
            )
    bias = report.get("bias", {})
    if isinstance(bias.get("position"), list):
        lines.append("position bias, P(first shown chosen):")
        for p in bias["position"]:
            lines.append(f"  {p['annotator']:24s} {p['p_first']:.3f}{_ci(p.get('p_first_ci95'))} n={p['n']}")
    if isinstance(bias.get("swap"), list):
        for s in bias["swap"]:
            lines.append(
                f"swap consistency {s['annotator']}: {s['consistency']:.3f}, flip rate {s['flip_rate']:.3f} "
                f"on {s['n_items']} items"
            )
    if isinstance(bias.get("length"), list):
        lines.append("length bias, P(longer chosen):")
        for row in bias["length"]:
            p = "n/a" if row["p_longer"] is None else f"{row['p_longer']:.3f}"
            lines.append(f"  {row['annotator']:24s} {p} (n={row['n_differ']}), logit slope {row['logit_slope']}")
    return "\n".join(lines)
