"""Analysis commands over a database: ``judgelab agreement`` and ``judgelab report``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from annotation.errors import JudgelabError
from annotation.services import Services
from contracts.vocab import BOTHBAD_RULES, ORDER_RULES

CLUSTER_HELP = (
    "the bootstrap's resampling unit: auto (the prompt, or MT-Bench's question_id, when items share one), "
    "none (items), or an item field"
)


ORDERS_HELP = (
    "a rater labeled in both presented orders: combined (one vote per item, MT-Bench), each (each order "
    "its own comparison, LLMBar), first (the ab order only)"
)


BOTHBAD_HELP = "how a both-bad verdict counts in agreement: as a tie (default, MT-Bench) or a distinct category"
MIN_VOTES_HELP = "the fewest votes a per-item majority needs (default 2: one vote is not a majority)"


def register(sub: Any) -> None:
    agr = sub.add_parser("agreement", help="agreement between two rater selections, with 95%% CIs")
    agr.add_argument("--task", required=True)
    agr.add_argument(
        "--a",
        required=True,
        action="append",
        metavar="SEL",
        help="name:GLOB (e.g. name:expert_*), a name, kind:human or kind:llm_judge; repeatable",
    )
    agr.add_argument("--b", required=True, action="append", metavar="SEL")
    agr.add_argument("--by", help="stratify by an item field: category, turn, model_a, any metadata key")
    agr.add_argument("--no-ties", action="store_true", help="drop comparisons where either side is a tie")
    agr.add_argument("--majority-b", action="store_true", help="compare with side b's per-item majority")
    agr.add_argument("--weights", choices=["linear", "quadratic"], help="weighted kappa (ordinal scales)")
    agr.add_argument("--n-boot", type=int, default=1000)
    agr.add_argument("--seed", type=int, default=0)
    agr.add_argument("--cluster", default="auto", metavar="FIELD", help=CLUSTER_HELP)
    agr.add_argument("--orders", default="combined", choices=ORDER_RULES, help=ORDERS_HELP)
    agr.add_argument("--min-votes", type=int, default=2, metavar="N", help=MIN_VOTES_HELP)
    agr.add_argument("--bothbad", default="tie", choices=BOTHBAD_RULES, help=BOTHBAD_HELP)
    agr.add_argument("--json", action="store_true")
    agr.set_defaults(func=cmd_agreement)

    rep = sub.add_parser("report", help="the whole analysis of a task")
    rep.add_argument("--task", required=True)
    rep.add_argument("--json", action="store_true", help="print the report as JSON")
    rep.add_argument("--html", type=Path, help="write a self-contained HTML report (works offline)")
    rep.add_argument("--png", type=Path, metavar="DIR", help="save every figure as a PNG in DIR (needs kaleido)")
    rep.add_argument("--by", help="also stratify agreement by this item field")
    rep.add_argument("--n-boot", type=int, default=1000)
    rep.add_argument("--seed", type=int, default=0)
    rep.add_argument("--epsilon", type=float, default=None, help="alt-test margin (default 0.2)")
    rep.add_argument("--cluster", default="auto", metavar="FIELD", help=CLUSTER_HELP)
    rep.add_argument("--orders", default="combined", choices=ORDER_RULES, help=ORDERS_HELP)
    rep.add_argument("--min-votes", type=int, default=2, metavar="N", help=MIN_VOTES_HELP)
    rep.add_argument("--bothbad", default="tie", choices=BOTHBAD_RULES, help=BOTHBAD_HELP)
    rep.add_argument(
        "--families",
        type=Path,
        metavar="FILE",
        help="self-preference: a YAML/JSON mapping of generator model -> model family (default: exact names)",
    )
    rep.set_defaults(func=cmd_report)


def read_families(path: Path) -> dict[str, str]:
    """The ``--families`` file: a mapping of generator model names to family names."""
    from annotation.files import read_yaml

    data = read_yaml(path, "--families file")
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise JudgelabError(
            f"{path}: must map model names to family names",
            value=data,
            fix='write e.g. {"gpt-4o-mini": "gpt-4", "gpt-4o": "gpt-4"}',
        )
    return data


def load_frames(services: Services, task: str) -> tuple[Any, Any, dict[str, str]]:
    from annotation.label_frames import task_frames

    with services.session() as session:
        return task_frames(session, task)


def cmd_agreement(args: argparse.Namespace, services: Services) -> int:
    from analysis.agreement import agreement
    from analysis.resampling import resampler_for
    from analysis.strata import by_stratum

    labels, items, _ = load_frames(services, args.task)
    if labels.empty:
        raise JudgelabError(f"task {args.task!r} has no labels yet", fix="import or collect labels first")
    resampler = (
        resampler_for(labels["item_id"], items, n_boot=args.n_boot, seed=args.seed, cluster=args.cluster)
        if args.n_boot > 0
        else None
    )

    def run(frame: Any) -> Any:
        return agreement(
            frame,
            args.a,
            args.b,
            ties=not args.no_ties,
            majority_b=args.majority_b,
            weights=args.weights,
            n_boot=args.n_boot,
            seed=args.seed,
            resampler=resampler,
            orders=args.orders,
            min_votes=args.min_votes,
            bothbad=args.bothbad,
        )

    results = by_stratum(labels, items, args.by, run)  # a bad --by or selector: app.messages words it
    rows = []
    for key, res in results:
        rows.append({**key, "error": str(res)} if isinstance(res, Exception) else {**key, **res.to_dict()})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(
        f"agreement on task {args.task!r}: a={args.a} b={args.b} "
        f"({'without' if args.no_ties else 'with'} ties{', vs majority of b' if args.majority_b else ''}, "
        f"orders {args.orders}); "
        + (
            f"95% CIs resample {resampler.unit}s ({resampler.n_units} of them)"
            if resampler is not None
            else "no CIs (--n-boot 0)"
        )
    )
    for row in rows:
        stratum = " ".join(f"{k}={row[k]}" for k in ([args.by] if args.by else []))
        if "error" in row:
            print(f"  {stratum} undefined: {row['error']}")
            continue
        lo, hi = row["agreement_ci95"]
        kappa = "n/a" if row["kappa"] is None else f"{row['kappa']:.3f}"
        if row["kappa_ci95"] is not None and row["kappa_ci95"][0] is not None:
            kappa += " [{:.3f}, {:.3f}]".format(*row["kappa_ci95"])
        interval = "" if lo is None or lo != lo else f" [{lo:.3f}, {hi:.3f}]"
        print(
            f"  {stratum + ' ' if stratum else ''}agreement {row['agreement']:.3f}{interval}  "
            f"{row.get('kappa_form') or ''} kappa {kappa}  n={row['n']} comparisons on {row['n_items']} items"
        )
        for figure in ("ci_flag", "kappa_ci_flag"):
            if row.get(figure):
                print(
                    f"    flagged {figure.removesuffix('ci_flag').rstrip('_') or 'agreement'} interval: {row[figure]}"
                )
    return 0


def cmd_report(args: argparse.Namespace, services: Services) -> int:
    from analysis.compare import DEFAULT_EPSILON
    from analysis.report import build_task_report
    from annotation.label_frames import task_question_frames
    from app.report_text import render_task_text

    with services.session() as session:
        frames, items, models = task_question_frames(session, args.task)
    if all(f.empty for f in frames.values()):
        raise JudgelabError(f"task {args.task!r} has no labels yet", fix="import or collect labels first")
    report = build_task_report(
        frames,
        items,
        task=args.task,
        judge_models=models,
        by=args.by,
        n_boot=args.n_boot,
        seed=args.seed,
        epsilon=args.epsilon if args.epsilon is not None else DEFAULT_EPSILON,
        cluster=args.cluster,
        orders=args.orders,
        families=read_families(args.families) if args.families else None,
        min_votes=args.min_votes,
        bothbad=args.bothbad,
    )
    if args.html:
        from annotation.files import write_text_atomically
        from app.report_html import render_html

        write_text_atomically(args.html, render_html(report))
        print(f"wrote {args.html}", file=sys.stderr if args.json else sys.stdout)
    if args.png:
        from app.report_png import save_pngs

        paths = save_pngs(report, args.png)
        print(f"wrote {len(paths)} figures to {args.png}", file=sys.stderr if args.json else sys.stdout)
    if args.json:
        json.dump(report.to_json(), sys.stdout, indent=2)
        print()
    elif not args.html and not args.png:
        print(render_task_text(report))
    return 0
