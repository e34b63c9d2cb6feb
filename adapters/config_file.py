"""Read and validate TOML configuration files; errors name file, key and reason."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from router.config import HelplineConfig
from router.errors import ConfigError

__all__ = ["load_config", "load_model", "validate_model"]

M = TypeVar("M", bound=BaseModel)


def _key(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def validate_model(model: type[M], data: dict[str, Any], *, file: str) -> M:
    """Validate ``data``; the first problem becomes a ``ConfigError`` (file, key, reason)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "missing":
            msg = "required key is missing"
        raise ConfigError(msg, file=file, key=_key(loc) or "(top level)") from None


def load_model(model: type[M], path: str | Path) -> M:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read file ({exc.strerror})", file=str(path)) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"not valid TOML: {exc}", file=str(path)) from None
    return validate_model(model, data, file=str(path))


def load_config(path: str | Path) -> HelplineConfig:
    """Load a helpline configuration (``config/vo-linjen.toml``)."""
    return load_model(HelplineConfig, path)
