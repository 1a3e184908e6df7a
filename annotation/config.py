"""The one settings object. Every setting reads from ``JUDGELAB_<NAME>`` (see docs/configuration.md)."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from annotation.errors import ConfigError


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "judgelab"


class Settings(BaseSettings):
    """judgelab's settings, read once from the environment (prefix ``JUDGELAB_``)."""

    model_config = SettingsConfigDict(env_prefix="JUDGELAB_", extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = None
    sqlite_busy_timeout_ms: int = 30_000
    max_field_chars: int = 1_000_000
    max_import_bytes: int = 2_000_000_000
    import_batch_size: int = 5_000
    model_cache_dir: Path = Field(default_factory=lambda: Path.home() / ".cache" / "judgelab" / "models")
    # the web page (README "What judgelab guarantees", security)
    max_request_bytes: int = 2_000_000  # a request body over this is refused before routing (413)
    max_rationale_chars: int = 5_000  # what the page accepts in a rationale; a skip reason: 500
    session_idle_s: int = 8 * 3600  # a login ends after this long without a request
    session_max_s: int = 7 * 24 * 3600  # and after this long in any case
    judge_config_dir: Path | None = None  # the operator's judge configs a web admin may start
    web_judge_hosts: str = ""  # comma-separated host:port a web-typed judge config may send requests to
    web_api_key_envs: str = ""  # comma-separated environment variables a web-typed config may name
    web_judge_example: str = ""  # the Judges tab's example config (the demo points it at its own vLLM)

    @field_validator("database_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError(
                f"JUDGELAB_DATABASE_URL must start with 'sqlite:///' or 'postgresql+psycopg://', got {value!r}"
            )
        if value.startswith("postgresql://") or value.startswith("postgres://"):
            raise ValueError(
                f"JUDGELAB_DATABASE_URL {value!r} names no driver; write 'postgresql+psycopg://...' (psycopg 3)"
            )
        return value

    def allowed_judge_hosts(self) -> list[str]:
        return [h.strip().lower() for h in self.web_judge_hosts.split(",") if h.strip()]

    def allowed_key_envs(self) -> list[str]:
        return [e.strip() for e in self.web_api_key_envs.split(",") if e.strip()]

    def resolved_database_url(self) -> str:
        """The database URL to use: the configured one, else a SQLite file in the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'judgelab.db'}"


def load_settings() -> Settings:
    """Read the settings from the environment; a bad ``JUDGELAB_*`` variable is a :class:`ConfigError`
    naming the variable, its value and the fix (never a pydantic traceback)."""
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "?"
        variable = f"JUDGELAB_{field.upper()}"
        expected = _EXPECTED.get(field, "a valid value")
        raise ConfigError(
            f"invalid setting {variable}: {first['msg']}",
            value=os.environ.get(variable, first.get("input")),
            fix=f"set {variable} to {expected}, or unset it for the default",
        ) from None


_EXPECTED = {
    "data_dir": "a folder path",
    "database_url": "'sqlite:////path/to/judgelab.db' or 'postgresql+psycopg://user@host/db'",
    "sqlite_busy_timeout_ms": "a whole number of milliseconds",
    "max_field_chars": "a whole number of characters",
    "max_import_bytes": "a whole number of bytes",
    "import_batch_size": "a whole number of rows",
    "model_cache_dir": "a folder path",
    "max_request_bytes": "a whole number of bytes",
    "max_rationale_chars": "a whole number of characters",
    "session_idle_s": "a whole number of seconds",
    "session_max_s": "a whole number of seconds",
    "judge_config_dir": "a folder path",
    "web_judge_hosts": "comma-separated host:port pairs, e.g. 127.0.0.1:8000,gpu-a:8000",
    "web_api_key_envs": "comma-separated environment variable names, e.g. OPENAI_API_KEY",
    "web_judge_example": "a judge config in YAML, e.g. 'model: m\\nbase_url: http://127.0.0.1:8000/v1'",
}
