"""YAML configs validated into pydantic models, in one place, with errors that name the field.

Every config of the project (training, evaluation, environment) is a pydantic model with
``extra="forbid"``: a typo is an error, never silently ignored. YAML is read only at the edges
(:func:`load_config`), and library code takes the validated objects.

    config = load_config(TrainConfig, "configs/wuxi_core.yaml", ["ppo.learning_rate=3e-4"])
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from core.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def format_validation_error(exc: ValidationError, where: str) -> str:
    """One readable line per problem: ``where.field: message``."""
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(root)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown field (typo?); remove it or check the documented fields"
        lines.append(f"{where}.{loc}: {msg}")
    return "; ".join(lines)


def validate(model: type[M], data: dict[str, Any], where: str) -> M:
    """``model`` validated from ``data``.

    Raises:
        ConfigError: a field is unknown or invalid; the message names it as ``where.field``.
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, where)) from None


def read_yaml_mapping(path: str | Path, examples: str = "configs/") -> dict[str, Any]:
    """Read a YAML file that must hold a mapping of fields (the shape of every config file).

    Raises:
        ConfigError: missing file, invalid YAML, or not a mapping; the message names the file.
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file {p} does not exist; see {examples} for examples.")
    try:
        loaded = yaml.safe_load(p.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {p} is not valid YAML: {exc}") from None
    if loaded is not None and not isinstance(loaded, dict):
        raise ConfigError(f"config file {p} must contain a mapping of fields at top level.")
    return loaded or {}


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """``data`` with ``section.field=value`` overrides set (values parsed as YAML; in place).

    Raises:
        ConfigError: an override without ``=``, or one that descends into a non-section.
    """
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like section.field=value.")
        dotted, raw = item.split("=", 1)
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError:
            value = raw
        keys = dotted.strip().split(".")
        node = data
        for key in keys[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {dotted!r}: {key!r} is not a section.")
        node[keys[-1]] = value
    return data


def load_config(
    model: type[M],
    path: str | Path | None = None,
    overrides: list[str] | None = None,
    where: str | None = None,
    examples: str = "configs/",
) -> M:
    """Read a YAML file, apply ``key.sub=value`` overrides, validate into ``model``.

    Args:
        model: the pydantic model to validate into.
        path: the YAML file (``None``: start from the model's defaults).
        overrides: ``section.field=value`` strings (command-line style).
        where: how errors name the config (default: the file name).
        examples: where a user finds example files (named when ``path`` is missing).

    Raises:
        ConfigError: missing/unreadable/malformed file, malformed override, invalid field.
    """
    data = read_yaml_mapping(path, examples) if path is not None else {}
    apply_overrides(data, list(overrides or []))
    return validate(model, data, where or (str(path) if path else "config"))


def dump_config(config: BaseModel) -> str:
    """The resolved config as YAML (what run and results folders record)."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
