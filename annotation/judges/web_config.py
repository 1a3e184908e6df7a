"""The judge configs a web admin may start: the operator decides, the page only picks.

A judge started from the web page runs in the server process with the server's files, environment
and network. So the page never chooses modules, model paths, engine arguments, files or environment
variables, nor a host to send requests to:

- **operator configs**: YAML files the operator placed in ``JUDGELAB_JUDGE_CONFIG_DIR``; the page
  lists their names and starts one by name (a template path in such a file resolves inside that
  folder);
- **a web-safe subset** of inline YAML: backend ``openai`` or ``fake`` only (``vllm`` runs an engine,
  and with ``trust_remote_code`` any uploaded code, inside the server: the command line only),
  ``template`` either ``builtin`` or inline Jinja text (never a path), ``api_key_env`` only a name
  on the operator's allow-list (``JUDGELAB_WEB_API_KEY_ENVS``), every ``base_url`` on a host:port of
  the operator's allow-list (``JUDGELAB_WEB_JUDGE_HOSTS``; empty by default: no outbound request).

Everywhere (web and command line) a template path that is the database, or its ``-wal``/``-shm``
file, is refused: opening the SQLite file from the server process and closing it drops the process's
POSIX locks on it, and acknowledged labels were lost that way.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from annotation.errors import ConfigError
from annotation.judges.config import JudgeConfig, OpenAIConfig, parse_config

WEB_BACKENDS = ("openai", "fake")
CONFIG_SUFFIXES = (".yaml", ".yml")


def protected_files(database_url: str) -> list[Path]:
    """The files no template may name: a SQLite database and its WAL and shared-memory files."""
    if not database_url.startswith("sqlite:///"):
        return []
    db = Path(database_url.removeprefix("sqlite:///"))
    return [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm"), db.with_name(db.name + "-journal")]


def check_template_path(template: str, *, base_dir: Path | None, protected: Iterable[Path]) -> str:
    """The template value with a relative path made absolute inside ``base_dir``; refuses a path that
    leaves ``base_dir`` (when given) or is one of the ``protected`` files. Compares resolved paths
    and file identities by ``stat``: the file itself is never opened here."""
    if template == "builtin" or "{{" in template:
        return template
    path = Path(template)
    if base_dir is not None:
        path = (base_dir / path).resolve()
        if not path.is_relative_to(base_dir.resolve()):
            raise ConfigError(
                "key 'template': the path leaves the judge config folder",
                value=template,
                fix="put the template file in the same folder as the config and name it relatively",
            )
    resolved = path.resolve()
    for guarded in protected:
        same = resolved == guarded.resolve()
        if not same and resolved.exists() and guarded.exists():
            same = os.path.samefile(resolved, guarded)
        if same:
            raise ConfigError(
                "key 'template' names the database (or its -wal/-shm file)",
                value=template,
                fix="give a .j2 template file; opening the database file from the server loses its locks",
            )
    return str(path)


def operator_configs(folder: Path | None) -> list[str]:
    """The names of the judge configs the operator placed in ``folder`` (sorted), for the page."""
    if folder is None or not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.suffix in CONFIG_SUFFIXES and p.is_file())


def operator_config(folder: Path | None, name: str, *, protected: Iterable[Path]) -> JudgeConfig:
    """The operator's config ``name`` (a file name listed by :func:`operator_configs`)."""
    if name not in operator_configs(folder):
        raise ConfigError(
            "no such judge config in the operator's folder",
            value=name,
            fix="pick one of the listed configs (the operator places them in JUDGELAB_JUDGE_CONFIG_DIR)",
        )
    assert folder is not None
    path = folder / name
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"judge config {name!r} cannot be read ({exc})", fix="ask the operator to fix it") from None
    if not isinstance(data, dict):
        raise ConfigError(f"judge config {name!r}: the top level must be a mapping", value=data)
    _refuse_engine(data, name)
    data["template"] = check_template_path(str(data.get("template", "builtin")), base_dir=folder, protected=protected)
    return parse_config(data, source=name)


def web_config(
    config_yaml: str, *, allowed_hosts: Iterable[str], allowed_key_envs: Iterable[str], protected: Iterable[Path]
) -> JudgeConfig:
    """A judge config typed on the page, held to the web-safe subset (see the module)."""
    try:
        data = yaml.safe_load(config_yaml)
    except yaml.YAMLError as exc:
        raise ConfigError(f"the judge config is not valid YAML ({exc})", fix="fix the YAML") from None
    if not isinstance(data, dict):
        raise ConfigError("the judge config must be a YAML mapping", fix="see docs/judges.md")
    _refuse_engine(data, "judge config")
    template = data.get("template", "builtin")
    if not isinstance(template, str) or (template != "builtin" and "{{" not in template):
        raise ConfigError(
            "key 'template': on the web page a template is 'builtin' or inline Jinja text, never a file",
            value=template,
            fix="paste the template's text (with its {{ ... }} fields), or ask the operator to place a config",
        )
    path = Path(template)
    if template != "builtin" and (path.suffix == ".j2" or path.exists()):
        raise ConfigError("key 'template': this text names a file", value=template, fix="paste the template's text")
    config = parse_config(data, source="judge config")
    if isinstance(config, OpenAIConfig):
        keys = set(allowed_key_envs)
        if config.api_key_env is not None and config.api_key_env not in keys:
            raise ConfigError(
                "key 'api_key_env': the operator has not allowed this variable for web-started judges",
                value=config.api_key_env,
                fix=f"use one of {sorted(keys)}" if keys else "ask the operator to set JUDGELAB_WEB_API_KEY_ENVS",
            )
        hosts = {h.strip().lower() for h in allowed_hosts if h.strip()}
        for url in config.base_url:
            if host_port(url) not in hosts:
                raise ConfigError(
                    "key 'base_url': the operator has not allowed this host for web-started judges",
                    value=url,
                    fix=f"use a server on one of {sorted(hosts)}"
                    if hosts
                    else "ask the operator to list judge servers in JUDGELAB_WEB_JUDGE_HOSTS",
                )
    return config


def host_port(url: str) -> str:
    """``host:port`` of an http(s) URL, the port made explicit (``http://Gpu-A/v1`` -> ``gpu-a:80``)."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{(parts.hostname or '').lower()}:{port}"


def _refuse_engine(data: dict[str, Any], source: str) -> None:
    backend = data.get("backend", "openai")
    if backend not in WEB_BACKENDS:
        raise ConfigError(
            f"{source}: backend {backend!r} cannot be started from the web page",
            value=backend,
            fix="the vllm backend runs the model inside the server process: start it from the command line "
            "(judgelab judge run --config FILE), or serve the model and use backend: openai",
        )
