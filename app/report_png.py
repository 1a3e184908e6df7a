"""``judgelab report --png DIR``: every figure as a PNG, rendered by kaleido with the machine's
Chromium (Debian's /usr/bin/chromium when installed)."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from analysis.plots import all_figures
from analysis.report_model import Report, TaskReport
from annotation.errors import JudgelabError


def save_pngs(report: Report | TaskReport, directory: Path) -> list[Path]:
    """Every figure as a PNG; a task of several questions: each question's figures, named after it."""
    if isinstance(report, TaskReport):
        return [path for name, part in report.questions.items() for path in save_pngs(part, directory / name)]
    try:
        import kaleido  # noqa: F401
    except ImportError:
        raise JudgelabError("--png needs the kaleido package", fix="pip install 'judgelab[png]'") from None
    chromium = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if chromium and "BROWSER_PATH" not in os.environ:
        os.environ["BROWSER_PATH"] = chromium
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, fig in all_figures(report).items():
        path = directory / (re.sub(r"[^A-Za-z0-9_.-]+", "_", name) + ".png")
        try:
            fig.write_image(str(path), width=900, height=500)
        except Exception as exc:  # kaleido reports a missing browser with several exception types
            raise JudgelabError(
                f"could not render {name} as PNG: {exc}", fix="install Chromium (apt-get install chromium) for kaleido"
            ) from None
        paths.append(path)
    return paths
