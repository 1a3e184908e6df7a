"""The report as plain text for the terminal, read from the typed report."""

from __future__ import annotations

from analysis.report_model import Agreement, AltTest, CeilingDifference, Interval, Reliability, Report, Undefined
from app.headline import FLAG_MARK, flag_lines


def _ci(ci: Interval | None) -> str:
    """`` [low, high]``, or nothing when the report has no interval (``--n-boot 0``)."""
    if ci is None or ci[0] is None or ci[1] is None:
        return ""
    return f" [{ci[0]:.3f}, {ci[1]:.3f}]"


def _fmt(block: Agreement | Undefined | None) -> str:
    if block is None:
        return "n/a"
    if isinstance(block, Undefined):
        return f"undefined ({block.error})"
    text = f"{block.agreement:.3f}{_ci(block.agreement_ci95)}{FLAG_MARK if block.ci_flag else ''}"
    if block.kappa is not None:
        text += f", kappa {block.kappa:.3f}{_ci(block.kappa_ci95)}{FLAG_MARK if block.kappa_ci_flag else ''}"
    return text + f" (n={block.n}, items={block.n_items})"


def _alt(alt: AltTest | Undefined) -> str:
    if isinstance(alt, Undefined):
        return f"undefined ({alt.error})"
    verdict = "PASSES" if alt.passed else "does not pass"
    return (
        f"winning rate {alt.winning_rate:.2f}, advantage probability {alt.advantage_probability:.3f} -> "
        f"{verdict} (epsilon {alt.epsilon})"
    )


def render_text(report: Report) -> str:
    lines = [
        f"task {report.task} ({report.protocol}): {report.n_items} items; "
        f"humans {report.humans}; judges {report.judges}",
        f"CIs: {report.settings.ci}, {report.settings.n_boot} resamples"
        + ("" if report.settings.n_boot else " (none: figures without intervals)"),
    ]
    for r in report.raters:
        lines.append(f"  {r.annotator} ({r.kind}): {r.submitted} submitted, {r.skipped} skipped, {r.failed} failed")
    ha = report.human_agreement
    if ha is not None:
        lines.append("humans vs humans:")
        lines.append(f"  with ties      {_fmt(ha.with_ties)}")
        if ha.without_ties is not None:
            lines.append(f"  without ties   {_fmt(ha.without_ties)}")
        for rel in (ha.alpha, ha.fleiss):
            if isinstance(rel, Reliability):
                lines.append(f"  {rel.metric} {rel.value:.3f}{_ci(rel.ci95)}{FLAG_MARK if rel.ci_flag else ''}")
    ceiling = report.human_ceiling
    if ceiling is not None and not isinstance(ceiling, Undefined):
        lines.append(
            f"human ceiling (each human vs the rest): mean agreement {ceiling.mean_agreement:.3f}"
            f"{_ci(ceiling.mean_agreement_ci95)}"
        )
    # S2 rewards a judge that is position-driven (its inconsistent verdicts become ties and are
    # dropped): it is printed next to the judge's swap consistency
    swaps = report.bias.swap if report.bias is not None and isinstance(report.bias.swap, list) else []
    swap_of = {s.annotator: f"; swap consistency {s.consistency:.3f}" for s in swaps}
    for j in report.judges_vs_humans:
        lines.append(f"judge {j.judge}: {j.n_labels} labels, {j.n_failed} failed")
        for block, title in ((j.with_ties, "with ties"), (j.without_ties, "without ties"), (j.majority, "vs majority")):
            if block is not None:
                lines.append(f"  {title:14s} {_fmt(block)}")
            if isinstance(block, Agreement) and block.dropped_share is not None:
                lines.append(
                    f"  {'':14s} dropped {block.dropped_share:.0%} of the comparisons (ties: judge "
                    f"{block.tie_share_a:.0%}, humans {block.tie_share_b:.0%}){swap_of.get(j.judge, '')}"
                )
        if isinstance(j.majority, Agreement) and j.majority.n_no_majority:
            lines.append(
                f"  {'':14s} {j.majority.n_no_majority} comparisons had no human majority of "
                f"{j.majority.min_votes}+ votes (left out)"
            )
        if isinstance(j.vs_ceiling, CeilingDifference):
            c = j.vs_ceiling
            lines.append(
                f"  minus ceiling  {c.difference:+.3f}{_ci(c.ci95)}{FLAG_MARK if c.ci_flag else ''} "
                f"(judge {c.judge_agreement:.3f} vs humans among themselves {c.human_agreement:.3f}, paired)"
            )
        if j.alt_test is not None:
            lines.append(f"  alt-test: {_alt(j.alt_test)}")
    bias = report.bias
    if bias is not None and isinstance(bias.position, list):
        lines.append("position bias, P(first shown chosen):")
        for p in bias.position:
            lines.append(f"  {p.annotator:24s} {p.p_first:.3f}{_ci(p.p_first_ci95)} n={p.n}")
    if bias is not None and isinstance(bias.swap, list):
        for s in bias.swap:
            lines.append(
                f"swap consistency {s.annotator}: {s.consistency:.3f}{_ci(s.consistency_ci95)}, "
                f"flip rate {s.flip_rate:.3f} on {s.n_items} items"
            )
    if bias is not None and isinstance(bias.length, list):
        lines.append("length bias, P(longer chosen):")
        for row in bias.length:
            rate = "n/a" if row.p_longer is None else f"{row.p_longer:.3f}"
            lines.append(f"  {row.annotator:24s} {rate} (n={row.n_differ}), logit slope {row.logit_slope}")
    flags = flag_lines(report)
    if flags:
        lines.append(f"flagged intervals ({len(flags)}; not vouched for, read as rough):")
        lines.extend(f"  {line}" for line in flags)
    return "\n".join(lines)
