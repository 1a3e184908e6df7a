"""Writing a file in place, safely: the content goes to a temporary file created exclusively in the
target folder (``mkstemp``: a name nobody can predict and plant a symlink at) and is moved over the
target when complete, so a failed write leaves nothing and a reader never sees half a file."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from annotation.errors import JudgelabError


def write_atomically(out: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a fresh temporary path beside ``out``, then move it to ``out``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".partial")
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        os.replace(tmp, out)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def write_text_atomically(out: Path, text: str) -> None:
    def write(tmp: Path) -> None:
        tmp.write_text(text, encoding="utf-8")

    write_atomically(out, write)


def read_yaml(path: Path, what: str, error: type[JudgelabError] = JudgelabError) -> Any:
    """A YAML (or JSON) file's data; a file that cannot be read, or is not YAML, raises ``error``
    naming the file (``what`` it is) and, for a syntax error, the line."""
    import yaml

    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise error(f"cannot read the {what} {str(path)!r} ({exc.strerror})", fix="check the path") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or exc
        raise error(f"{path}{line}: not valid YAML or JSON ({problem})", fix="fix the file's syntax") from None
