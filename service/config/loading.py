"""Loading the configuration: a YAML file, then the environment, then command-line overrides.

Precedence (lowest first): field defaults < YAML file < environment (``ACTIONSTREAM_<SECTION>__<FIELD>``)
< command-line overrides. Every model forbids unknown keys, so a typo is an error rather than a
silently ignored setting. Errors come out as one ``ConfigError`` with one line per problem, each
naming the field path (``cameras[0].transport``) and, for values from the environment, the variable.

Camera sources can carry credentials (``rtsp://user:pass@host``): nothing here logs or prints them,
and ``ConfigError`` never echoes a source's value.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from service.config.sections import DEFAULT_CAMERA_ID, SERVICE_ONLY, AppConfig, WebAppConfig

ENV_PREFIX = "ACTIONSTREAM_"
ENV_SEPARATOR = "__"
_SECRET_FIELDS = frozenset({"source"})

Model = TypeVar("Model", bound=BaseModel)


class ConfigError(ValueError):
    """The configuration is invalid; the message has one line per problem, naming the field."""


def load_config(
    path: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> AppConfig:
    """Build the config from a YAML file, environment overrides and command-line overrides.

    ``overrides`` is a nested dict merged last; its key ``source`` is a shortcut that replaces the
    camera list with one camera ``cam0`` reading that source (``actionstream serve --source ...``).
    Pass ``env=os.environ`` at the entry point; tests pass their own mapping.
    """
    overrides = dict(overrides or {})
    source = overrides.pop("source", None)
    cameras = None if source is None else [{"id": DEFAULT_CAMERA_ID, "source": source}]
    return _load(AppConfig, path, env or {}, overrides, cameras=cameras)


def load_web_config(
    path: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> WebAppConfig:
    """Like :func:`load_config` for ``actionstream web``: no cameras needed, ``cameras``/``zmq`` ignored."""
    env_web = {k: v for k, v in (env or {}).items() if not _is_service_only_env(k)}
    return _load(WebAppConfig, path, env_web, dict(overrides or {}), ignore=SERVICE_ONLY)


def _load(
    model: type[Model],
    path: str | Path | None,
    env: Mapping[str, str],
    overrides: Mapping[str, Any],
    *,
    cameras: list[dict[str, Any]] | None = None,
    ignore: tuple[str, ...] = (),
) -> Model:
    """File, then environment, then overrides (``cameras``: the ``--source`` shortcut), validated."""
    data = _read_yaml(Path(path)) if path is not None else {}
    for key in ignore:
        data.pop(key, None)
    origins: dict[tuple[str | int, ...], str] = {}
    if cameras is not None:
        # --source replaces the file's cameras before the environment is applied, so that
        # ACTIONSTREAM_CAMERAS__0__* set that camera's other fields (and a higher index is an error);
        # the flag's source still wins over ACTIONSTREAM_CAMERAS__0__SOURCE.
        data["cameras"] = copy.deepcopy(cameras)
    _apply_env(data, env, origins, hint=" (--source makes one camera, index 0)" if cameras else "")
    if cameras is not None:
        data["cameras"][0]["source"] = cameras[0]["source"]
        origins[("cameras", 0, "source")] = "--source"
    _deep_merge(data, overrides)
    if "cameras" in model.model_fields and not data.get("cameras"):
        raise ConfigError(
            "cameras: no camera configured; give --source (an RTSP URL, webcam index or video file) "
            "or a config file with a 'cameras:' list"
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, origins)) from None


def _is_service_only_env(name: str) -> bool:
    return any(name.upper().startswith(f"{ENV_PREFIX}{key.upper()}{ENV_SEPARATOR}") for key in SERVICE_ONLY)


def format_validation_error(
    exc: ValidationError, origins: Mapping[tuple[str | int, ...], str] | None = None
) -> str:
    """One human-readable line per error: ``path: problem (got value) [from ENV_VAR]``."""
    lines = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        path = _format_loc(loc)
        msg = err["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        line = f"{path}: {msg}" if path else msg
        value = err.get("input")
        if (
            loc
            and loc[-1] not in _SECRET_FIELDS
            and isinstance(value, str | int | float | bool)
            and value != ""
        ):
            shown = repr(value)
            if len(shown) <= 60 and err["type"] not in ("missing",):
                line += f" (got {shown})"
        # A section's own check (a consumer's options refused it) names its fields in the message.
        named = msg if err["type"] == "value_error" else None
        origin = _origin(loc, origins or {}, named)
        if origin:
            line += f" [from {origin}]"
        lines.append(line)
    return "\n".join(lines)


def _origin(
    loc: tuple[Any, ...], origins: Mapping[tuple[str | int, ...], str], named: str | None = None
) -> str | None:
    """The variable or option a failing value came from: exact path, else one set below it (with
    ``named``, the message of a section's own check, only those of the fields it names)."""
    if loc in origins:
        return origins[loc]
    below = sorted(
        name
        for key, name in origins.items()
        if loc
        and key[: len(loc)] == loc
        and (named is None or re.search(rf"\b{re.escape(str(key[-1]))}\b", named))
    )
    return ", ".join(below) or None


def _format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(
            f"config file not found: {path} (give an existing YAML file, or leave --config out)"
        )
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections, got {type(loaded).__name__}")
    return loaded


def _apply_env(
    data: dict[str, Any],
    env: Mapping[str, str],
    origins: dict[tuple[str | int, ...], str],
    *,
    hint: str = "",
) -> None:
    """Apply ``ACTIONSTREAM_SECTION__FIELD`` (and ``ACTIONSTREAM_CAMERAS__<index>__FIELD``) variables."""
    for name in sorted(env):
        if not name.startswith(ENV_PREFIX) or ENV_SEPARATOR not in name:
            continue
        parts = [p.lower() for p in name[len(ENV_PREFIX) :].split(ENV_SEPARATOR)]
        if any(not p for p in parts):
            raise ConfigError(
                f"{name}: empty part in the variable name (expected ACTIONSTREAM_SECTION__FIELD)"
            )
        loc: list[str | int] = []
        node: Any = data
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    raise ConfigError(
                        f"{name}: {_format_loc(tuple(loc))} has {len(node)} entries; "
                        f"'{part}' is not a valid index{hint}"
                    )
                key: str | int = int(part)
            else:
                key = part
            loc.append(key)
            if last:
                node[key] = env[name]
            else:
                if isinstance(node, dict) and key not in node:
                    node[key] = {}
                node = node[key]
                if not isinstance(node, dict | list):
                    raise ConfigError(f"{name}: {_format_loc(tuple(loc))} is a value, not a section")
        origins[tuple(loc)] = name


def _deep_merge(base: dict[str, Any], extra: Mapping[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _deep_merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
