"""``judgelab estimate`` and ``judgelab plan``: what the humans would say about every item, from the
human labels there are and a judge's labels on all items (analysis.judge_assisted)."""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

from annotation.errors import JudgelabError
from annotation.services import Services

TARGET_HELP = "win-rate:MODEL (pairwise), pass-rate (scores, with --threshold) or mean-score"
HUMANS_HELP = "the human raters (a selector: kind:human, name:GLOB, a name; default kind:human)"
RANDOM_HELP = (
    "use human labels whose item selection judgelab did not record (imported files) as a random sample; "
    "say so only when it is true"
)


def register(sub: Any) -> None:
    est = sub.add_parser("estimate", help="human-only, judge-only and judge-assisted (PPI++) estimates")
    est.add_argument("--task", required=True)
    est.add_argument("--judge", required=True, metavar="SEL", help="the judge (one rater)")
    est.add_argument("--humans", default="kind:human", metavar="SEL", help=HUMANS_HELP)
    est.add_argument("--target", required=True, help=TARGET_HELP)
    est.add_argument("--threshold", type=float, help="pass-rate: the score that passes")
    est.add_argument("--by", metavar="FIELD", help="also estimate per value of an item field")
    est.add_argument("--assume-random", action="store_true", help=RANDOM_HELP)
    est.add_argument(
        "--keep-humans",
        type=int,
        metavar="N",
        help="a check: keep the human labels of N random items, hide the rest, and compare with all of them",
    )
    est.add_argument("--seed", type=int, default=0, help="with --keep-humans: which items are kept")
    est.add_argument("--json", action="store_true")
    est.set_defaults(func=cmd_estimate)

    plan = sub.add_parser("plan", help="how many human labels a confidence interval of a given width needs")
    plan.add_argument("--task", required=True)
    plan.add_argument("--judge", required=True, metavar="SEL")
    plan.add_argument("--humans", default="kind:human", metavar="SEL", help=HUMANS_HELP)
    plan.add_argument("--target", required=True, help=TARGET_HELP)
    plan.add_argument("--threshold", type=float)
    plan.add_argument("--width", type=float, required=True, help="the 95%% interval's full width, e.g. 0.05")
    plan.add_argument(
        "--correlation", type=float, metavar="R", help="a guess of the human-judge correlation (else measured)"
    )
    plan.add_argument("--assume-random", action="store_true", help=RANDOM_HELP)
    plan.add_argument("--json", action="store_true")
    plan.set_defaults(func=cmd_plan)


def _frames(services: Services, task: str) -> tuple[Any, Any]:
    from annotation.label_frames import task_frames

    with services.session() as session:
        labels, items, _ = task_frames(session, task)
    if labels.empty:
        raise JudgelabError(f"task {task!r} has no labels yet", fix="import or collect labels first")
    return labels, items


def _ci(figure: dict[str, Any]) -> str:
    low, high = figure["ci95"]
    if low is None or (isinstance(low, float) and math.isnan(low)):
        return "no interval"
    flag = f"  FLAGGED: {figure['ci_flag']}" if figure.get("ci_flag") else ""
    return f"[{low:.4f}, {high:.4f}]{flag}"


def _lines(result: dict[str, Any], indent: str = "  ") -> list[str]:
    h, j, p = result["human_only"], result["judge_only"], result["ppi"]
    eff = result["effective_n_human"]
    ratio = result["width_ratio"]
    return [
        f"{indent}human-only      {h['estimate']:.4f} {_ci(h)}  n={h['n']}",
        f"{indent}judge-only      {j['estimate']:.4f} (biased: no interval)  n={j['n']}"
        if j["estimate"] is not None
        else f"{indent}judge-only      none",
        f"{indent}judge-assisted  {p['estimate']:.4f} {_ci(p)}  n_human={p['n_human']} n_judge={p['n_judge']} "
        f"lambda={p['lambda']:.3f}",
        f"{indent}width ratio {ratio:.3f}; effective human sample size {eff:,.0f}"
        if ratio is not None and eff is not None
        else f"{indent}width ratio: n/a",
    ]


def _computed(args: argparse.Namespace, services: Services, fn: Any, **extra: Any) -> dict[str, Any] | None:
    """``fn`` (estimate or plan_for) on the task's frames with the options both commands share; the
    result, or None once printed as JSON (``--json``)."""
    labels, items = _frames(services, args.task)
    result: dict[str, Any] = fn(
        labels,
        items,
        target=args.target,
        judge=args.judge,
        humans=args.humans,
        threshold=args.threshold,
        assume_random=args.assume_random,
        **extra,
    )
    if args.json:
        print(json.dumps(result, indent=2, default=_plain))
        return None
    return result


def cmd_estimate(args: argparse.Namespace, services: Services) -> int:
    from analysis.judge_assisted import estimate

    result = _computed(args, services, estimate, by=args.by, keep_humans=args.keep_humans, seed=args.seed)
    if result is None:
        return 0
    print(f"{args.target} on task {args.task!r}, judge {result['judge']} (95% intervals)")
    print(f"  counting: {result['counting']}")
    sel = result["selection"]
    print(f"  human labels used: {sel['used']} ({sel['rule']}); left out: {sel['left_out']}")
    for line in _lines(result):
        print(line)
    for warning in sel["warnings"]:
        print(f"  warning: {warning}")
    check = result.get("hidden_check")
    if check:
        print(
            f"  check: {check['kept_humans']} human-labeled items kept of {check['n_all_humans']}; all humans say "
            f"{check['all_humans_estimate']:.4f}; covered by judge-assisted: {check['ppi_covers']}, "
            f"by human-only: {check['human_only_covers']}"
        )
    for stratum in result.get("strata", []):
        print(f"  {args.by} = {stratum[args.by]}")
        for line in _lines(stratum, indent="    "):
            print(line)
    print("  cite the judge-assisted figure only as README.md 'Judge-assisted estimates' says")
    return 0


def cmd_plan(args: argparse.Namespace, services: Services) -> int:
    from analysis.judge_assisted import plan_for

    result = _computed(args, services, plan_for, width=args.width, correlation=args.correlation)
    if result is None:
        return 0
    rel = result["relation"]
    print(f"{args.target} on task {args.task!r}, judge {result['judge']}: a 95% interval {args.width} wide")
    print(f"  relation {rel['source']}: sd human {rel['sd_human']:.3f}, sd judge {rel['sd_judge']:.3f}")
    for name, key in (("human-only", "human_only"), ("judge-assisted", "ppi")):
        need = result[key]
        if need["n"] is None:
            print(f"  {name:15s} not reachable within the task's {result['n_items']:,} items")
        else:
            more = f"{need['more']:,} more than the {result['n_human_now']:,} now"
            print(f"  {name:15s} {need['n']:,} human-labeled items ({more})")
    return 0


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return str(value)
