"""The report as plain text for the terminal, read from the typed report."""

from __future__ import annotations

from analysis.report_model import (
    Agreement,
    AltTest,
    CeilingDifference,
    Interval,
    Reliability,
    Report,
    TaskReport,
    Undefined,
)
from app.headline import FLAG_MARK, flag_lines
from app.tables import checklist_rows, overall_cells


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
    lines.extend(more_sections(report))
    flags = flag_lines(report)
    if flags:
        lines.append(f"flagged intervals ({len(flags)}; not vouched for, read as rough):")
        lines.extend(f"  {line}" for line in flags)
    return "\n".join(lines)


def _num(value: float | None, ci: Interval | None = None, flag: str | None = None) -> str:
    return "n/a" if value is None else f"{value:.3f}{_ci(ci)}{FLAG_MARK if flag else ''}"


def more_sections(report: Report) -> list[str]:
    """Leniency, the system rankings and their correlations, consistency, strata: every section the
    JSON report holds, in words."""
    lines: list[str] = []
    bias = report.bias
    if bias is not None and isinstance(bias.leniency, list) and bias.leniency:
        lines.append("leniency (judge minus humans):")
        for row in bias.leniency:
            parts = []
            if row.tie_rate_diff is not None:
                parts.append(f"tie rate {_num(row.tie_rate_diff, row.tie_rate_diff_ci95, row.tie_rate_diff_ci_flag)}")
            if row.mean_diff is not None:
                parts.append(f"mean score {_num(row.mean_diff, row.mean_diff_ci95, row.mean_diff_ci_flag)}")
            if row.positive_rate_diff is not None:
                rate = _num(row.positive_rate_diff, row.positive_rate_diff_ci95, row.positive_rate_diff_ci_flag)
                parts.append(f"share above the midpoint {rate}")
            lines.append(f"  {row.judge:24s} {'; '.join(parts) or 'n/a'} (items={row.n_items})")
    for j in report.judges_vs_humans:
        if isinstance(j.majority, Agreement) and j.majority.agreement is not None:
            k = round(j.majority.n * (1 - j.majority.agreement))
            lines.append(f"disagreements of {j.judge} with the human majority: {k} of {j.majority.n} comparisons")
    system = report.system
    if system is not None and not isinstance(system, Undefined):
        if isinstance(system.humans, list) and system.humans:
            lines.append("system ranking by the humans (Bradley-Terry):")
            for r in system.humans:
                lines.append(
                    f"  {r.rank}. {r.model:22s} score {_num(r.bt_score, r.bt_score_ci95, r.ci_flag)}, "
                    f"win rate {r.win_rate:.3f}"
                )
        for judge, ranking in system.judges.items():
            if isinstance(ranking, Undefined):
                lines.append(f"system ranking by {judge}: undefined ({ranking.error})")
                continue
            order = ", ".join(r.model for r in ranking.ranking)
            lines.append(f"system ranking by {judge}: {order}")
            vs = ranking.vs_humans
            if vs is not None:
                lines.append(
                    f"  vs the humans' ranking ({vs.n_models} models): Spearman "
                    f"{_num(vs.spearman, vs.spearman_ci95, vs.spearman_ci_flag)}, Kendall tau "
                    f"{_num(vs.kendall, vs.kendall_ci95, vs.kendall_ci_flag)}"
                )
    for rater, t in (report.consistency or {}).items():
        if isinstance(t, Undefined):
            continue
        rate = "n/a" if t.violation_rate is None else f"{t.violation_rate:.3f}"
        lines.append(
            f"transitivity {rater}: {t.circular} circular of {t.n_triples} triples, "
            f"{t.equivalence_contradictions} tie contradictions (violation rate {rate})"
        )
    lines += estimate_lines(report)
    strata = report.strata
    if strata is not None:
        lines.append(f"agreement by {strata.by} (exploratory: per-stratum intervals, not simultaneous):")
        for stratum in strata.rows:
            where = f"{stratum.rater} / {strata.by}={stratum.stratum(strata.by)}"
            if stratum.error:
                lines.append(f"  {where}: undefined ({stratum.error})")
            else:
                rate = _num(stratum.agreement, stratum.agreement_ci95, stratum.ci_flag)
                lines.append(f"  {where}: {rate} (n={stratum.n}, items={stratum.n_items})")
        for test in strata.heterogeneity:
            p = "n/a" if test.p_value is None else f"{test.p_value:.3f}"
            q = "n/a" if test.q is None else f"{test.q:.2f}"
            lines.append(f"  heterogeneity {test.rater}: Q = {q}, df {test.df}, p = {p} over {test.n_strata} strata")
    return lines


def estimate_lines(report: Report) -> list[str]:
    """What the humans would say about every item: the three estimates per judge and model."""
    est = report.estimates
    if est is None:
        return []
    if isinstance(est, Undefined):
        return [f"judge-assisted estimates: undefined ({est.error})"]
    lines = [
        "what the humans would say (win rates; human-only | judge-only, biased | judge-assisted PPI++), "
        f"from {est.used_human_labels} human labels known to be a random sample "
        f"({est.left_out_human_labels} left out: not known to be random; see judgelab estimate --assume-random):"
    ]
    for row in est.rows:
        h, j, p = row.human_only, row.judge_only, row.ppi
        judge_only = "n/a" if j.estimate is None else f"{j.estimate:.3f}"
        ratio = "" if row.width_ratio is None else f", width ratio {row.width_ratio:.2f}"
        lines.append(
            f"  {row.judge} / {row.target}: {_num(h.estimate, h.ci95, h.ci_flag)} (n={h.n}) | {judge_only} "
            f"(n={j.n}) | {_num(p.estimate, p.ci95, p.ci_flag)} (lambda "
            f"{'n/a' if p.lam is None else f'{p.lam:.2f}'}{ratio})"
        )
    lines += [f"  warning: {w}" for w in est.warnings]
    return lines


def render_task_text(report: Report | TaskReport) -> str:
    """The terminal report; a task of several questions: the table across questions, then each
    question's report under its name."""
    if not isinstance(report, TaskReport):
        return render_text(report)
    lines = [f"task {report.task!r}: {report.n_items} items, {len(report.questions)} questions", ""]
    lines.append("Judges against humans, question by question (agreement with ties [95% CI], kappa, alt-test):")
    for row in report.overall:
        c = overall_cells(row)
        lines.append(
            f"  {c['question']} ({c['kind']}) {c['judge']}: n={c['n']} agreement {c['agreement']} kappa "
            f"{c['kappa'] or 'n/a'} alpha {c['alpha'] or 'n/a'} {c['alt_test']}"
        )
    for name, part in report.questions.items():
        lines += ["", f"=== question {name} ({part.question.kind if part.question else ''}) ===", render_text(part)]
        for r in checklist_rows(part):
            lines.append(f"  pass rate {r['rater']}: {r['text']} over {r['n_items']} items ({r['n_entries']} entries)")
    return "\n".join(lines)
