"""Layered loading: defaults < system file < user file < AIOS_* variables < flags.

Each layer is validated on its own against the attrs models, so an error names the layer's
source (file path, variable name or flag) and the full key. Validation does not stop at the first
problem: every error of every layer is collected (:class:`Problems`) and raised as one
:class:`ConfigError` whose message has one line per problem, so a person fixes them in one go.
Values are converted once, with the model's field types, and merged into a tree of converted
values; the final :class:`Config` is built from that tree. Tables merge key by key; lists and
scalars replace.
"""

from __future__ import annotations

import os
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import attrs
import cattrs

from aios.errors import ConfigError

from ._model import Config
from ._problems import Problems
from ._types import Bytes, Seconds, parse_duration, parse_size

KeyPath = tuple[str, ...]

DEFAULT_SOURCE = "default"

# Variables that are not config keys but are read by aios itself.
RESERVED_ENV = frozenset(
    {"AIOS_CONFIG", "AIOS_SYSTEM_CONFIG", "AIOS_SOCKET", "AIOS_ORIGIN", "AIOS_DEBUG"}
)

_converter = cattrs.Converter(forbid_extra_keys=True)
_converter.register_structure_hook(Seconds, lambda v, _: parse_duration(v))
_converter.register_structure_hook(Bytes, lambda v, _: parse_size(v))


def _strict_scalar(v: Any, t: type) -> Any:
    if t is bool:
        if isinstance(v, bool):
            return v
        raise ValueError("expected true or false")
    if t is int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise ValueError("expected an integer")
        return v
    if t is float:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise ValueError("expected a number")
        return float(v)
    if t is str:
        if not isinstance(v, str):
            raise ValueError("expected a string")
        return v
    raise TypeError(t)


for _t in (bool, int, float, str):
    _converter.register_structure_hook(_t, _strict_scalar)


def describe_type(tp: Any) -> str:
    """A person's name for a field type, used in error messages."""
    if tp is Seconds:
        return 'a duration (30, "30s", "5m", "hourly")'
    if tp is Bytes:
        return 'a size (65536, "64KiB", "1MiB")'
    if tp is bool:
        return "true or false"
    if tp is int:
        return "an integer"
    if tp is float:
        return "a number"
    if tp is str:
        return "a string"
    origin = get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if origin in (typing.Union, types.UnionType):
        parts = [describe_type(a) for a in get_args(tp) if a is not type(None)]
        return " or ".join(parts) + (" (or unset)" if type(None) in get_args(tp) else "")
    if origin is list:
        (item,) = get_args(tp)
        return f"a list of {describe_type(item).removeprefix('a ').removeprefix('an ')}s"
    if origin is dict:
        return "a table"
    if attrs.has(tp):
        return "a table"
    return str(tp)


def _fields(cls: type) -> dict[str, tuple[attrs.Attribute[Any], Any]]:
    hints = typing.get_type_hints(cls)
    return {a.name: (a, hints[a.name]) for a in attrs.fields(cls)}


def _convert_leaf(
    value: Any, tp: Any, attribute: attrs.Attribute[Any] | None, source: str, key: str
) -> Any:
    try:
        converted = _structure(value, tp)
        if attribute is not None and attribute.validator is not None:
            attribute.validator(None, attribute, converted)
    except (ValueError, TypeError, cattrs.BaseValidationError) as exc:
        detail = _first_message(exc)
        raise ConfigError(
            f"{source}: {key} = {value!r} is invalid: {detail} (expected {describe_type(tp)})",
            source=source,
            key=key,
        ) from exc
    return converted


def _structure(value: Any, tp: Any) -> Any:
    origin = get_origin(tp)
    if origin is Literal:
        if value not in get_args(tp):
            raise ValueError("not an allowed value")
        return value
    if origin in (typing.Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return _structure(value, args[0])
    if origin is list:
        if not isinstance(value, list):
            raise ValueError('expected a list, e.g. ["a", "b"]')
        (item,) = get_args(tp)
        return [_structure(v, item) for v in value]
    return _converter.structure(value, tp)


def _first_message(exc: BaseException) -> str:
    if isinstance(exc, cattrs.BaseValidationError):
        msgs = cattrs.transform_error(exc)
        return "; ".join(msgs) if msgs else str(exc)
    text = str(exc)
    # attrs' in_/ge validators produce long messages; keep their first clause.
    if text.startswith("'") and "must be in" in text:
        return "not an allowed value"
    return text


def _is_attrs_type(tp: Any) -> bool:
    return isinstance(tp, type) and attrs.has(tp)


def _optional_attrs(tp: Any) -> Any:
    """For ``X | None`` where X is an attrs class, return X; else None."""
    if get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) == 1 and _is_attrs_type(args[0]):
            return args[0]
    return None


def validate_layer(
    cls: type, data: Mapping[str, Any], source: str, prefix: KeyPath = ()
) -> tuple[dict[str, Any], dict[KeyPath, str]]:
    """Validate one layer against ``cls``; return converted values and their key paths.

    Raises:
        ConfigError: every problem of the layer, each naming ``source`` and the dotted key.
    """
    problems = Problems()
    result = _validate(cls, data, source, prefix, problems)
    problems.raise_if_any()
    return result


def _validate(
    cls: type, data: Mapping[str, Any], source: str, prefix: KeyPath, problems: Problems
) -> tuple[dict[str, Any], dict[KeyPath, str]]:
    """:func:`validate_layer` that records problems and goes on with the next key."""
    out: dict[str, Any] = {}
    provenance: dict[KeyPath, str] = {}
    fields = _fields(cls)
    # A class may file its unknown *tables* under one dict field (``[agents.NAME]`` beside
    # ``agents.max_parallel``); provenance keeps the path as written.
    tables: str | None = getattr(cls, "TABLES", None)
    for name, value in data.items():
        path = (*prefix, name)
        key = ".".join(path)
        if name not in fields and tables is not None and isinstance(value, Mapping):
            item_cls = get_args(fields[tables][1])[1]
            out.setdefault(tables, {})[name], inner = validate_layer(item_cls, value, source, path)
            provenance.update(inner)
            provenance[path] = source
            continue
        if name not in fields:
            known = ", ".join(sorted(fields))
            where = ".".join(prefix) or "the top level"
            problems.add(ConfigError(
                f"{source}: unknown key {key!r} (keys allowed in {where}: {known})",
                source=source,
                key=key,
            ))
            continue
        attribute, tp = fields[name]
        sub = tp if _is_attrs_type(tp) else _optional_attrs(tp)
        if sub is not None and isinstance(value, Mapping):
            out[name], inner = _validate(sub, value, source, path, problems)
            provenance.update(inner)
        elif sub is not None:
            problems.add(ConfigError(
                f"{source}: {key} must be a table ([{key}]), not {type(value).__name__}",
                source=source,
                key=key,
            ))
        elif get_origin(tp) is dict and _is_attrs_type(get_args(tp)[1]):
            if not isinstance(value, Mapping):
                problems.add(ConfigError(
                    f"{source}: {key} must be a table of tables ([{key}.NAME])",
                    source=source,
                    key=key,
                ))
                continue
            item_cls = get_args(tp)[1]
            table: dict[str, Any] = {}
            for item_name, item in value.items():
                item_path = (*path, str(item_name))
                if not isinstance(item, Mapping):
                    problems.add(ConfigError(
                        f"{source}: {'.'.join(item_path)} must be a table",
                        source=source,
                        key=".".join(item_path),
                    ))
                    continue
                table[str(item_name)], inner = _validate(item_cls, item, source, item_path, problems)
                provenance.update(inner)
                provenance[item_path] = source
            out[name] = table
        else:
            with problems.collect():
                out[name] = _convert_leaf(value, tp, attribute, source, key)
                provenance[path] = source
    return out, provenance


def merge(base: dict[str, Any], layer: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``layer`` over ``base``: tables key by key, everything else replaced."""
    result = dict(base)
    for k, v in layer.items():
        if isinstance(v, dict) and isinstance(result.get(k), dict):
            result[k] = merge(result[k], v)
        else:
            result[k] = v
    return result


def build(cls: type, tree: Mapping[str, Any], source_of: Mapping[KeyPath, str]) -> Any:
    """Build the attrs instance from converted values (missing keys take their defaults)."""
    kwargs: dict[str, Any] = {}
    for name, (_attribute, tp) in _fields(cls).items():
        if name not in tree:
            continue
        value = tree[name]
        sub = tp if _is_attrs_type(tp) else _optional_attrs(tp)
        if sub is not None and isinstance(value, Mapping):
            value = build(sub, value, source_of)
        elif get_origin(tp) is dict and _is_attrs_type(get_args(tp)[1]):
            value = {k: build(get_args(tp)[1], v, source_of) for k, v in value.items()}
        kwargs[name] = value
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as exc:  # cross-field validators
        raise ConfigError(f"invalid config: {exc}") from exc


def read_toml(path: Path) -> dict[str, Any]:
    """Read one TOML file, turning syntax errors into a ConfigError naming the file."""
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}", source=str(path)) from exc
    except UnicodeDecodeError as exc:  # TOML is UTF-8; tomllib lets the codec's error through
        raise ConfigError(
            f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); "
            "save it as UTF-8",
            source=str(path),
        ) from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}", source=str(path)) from exc


def parse_scalar(text: str) -> Any:
    """Read a value from a variable or flag: TOML syntax when it is one, else the raw string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def nest(path: KeyPath, value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {path[-1]: value}
    for part in reversed(path[:-1]):
        out = {part: out}
    return out


def env_layers(
    environ: Mapping[str, str], problems: Problems | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """One layer per ``AIOS_SECTION__KEY`` variable, sorted by name for determinism.

    Args:
        environ: the environment.
        problems: where to record variables that are not config keys and go on with the
            others; without it they are raised.

    Raises:
        ConfigError: (without ``problems``) every variable that is not a config key.
    """
    layers = []
    own = Problems() if problems is None else problems
    for name in sorted(environ):
        if not name.startswith("AIOS_") or name in RESERVED_ENV:
            continue
        if "__" not in name:
            own.add(ConfigError(
                f"environment variable {name} is not a config key: nested keys use a double "
                "underscore, e.g. AIOS_SECURITY__MODE=paranoid",
                source=f"environment variable {name}",
                key=name,
            ))
            continue
        parts = tuple(p.lower() for p in name[len("AIOS_") :].split("__"))
        if any(not p for p in parts):
            own.add(ConfigError(
                f"environment variable {name} has an empty key part",
                source=f"environment variable {name}",
                key=name,
            ))
            continue
        layers.append((f"environment variable {name}", nest(parts, parse_scalar(environ[name]))))
    if problems is None:
        own.raise_if_any()
    return layers


def set_layer(assignment: str) -> tuple[str, dict[str, Any]]:
    """Parse one ``--set section.key=value`` flag."""
    source = f"flag --set {assignment}"
    key, sep, text = assignment.partition("=")
    key = key.strip()
    if not sep or not key or any(not p for p in key.split(".")):
        raise ConfigError(
            f"{source}: expected --set section.key=value, e.g. --set security.mode=paranoid",
            source=source,
            key=key,
        )
    return source, nest(tuple(key.split(".")), parse_scalar(text.strip()))


def load_layers(
    layers: list[tuple[str, Mapping[str, Any]]],
) -> tuple[Config, dict[KeyPath, str]]:
    """Validate and merge layers in order; return the config and each key's source.

    Raises:
        ConfigError: every problem of every layer (one line each), not just the first.
    """
    tree: dict[str, Any] = {}
    provenance: dict[KeyPath, str] = {}
    problems = Problems()
    for source, data in layers:
        converted, prov = _validate(Config, data, source, (), problems)
        tree = merge(tree, converted)
        provenance.update(prov)
    problems.raise_if_any()
    return build(Config, tree, provenance), provenance


def env_value(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    env = os.environ if environ is None else environ
    value = env.get(name)
    return value if value else None


def describe_type_for_docs(tp: Any) -> str:
    """A short type name for the generated reference (docs/config.md)."""
    if tp is Seconds:
        return "duration"
    if tp is Bytes:
        return "size"
    origin = get_origin(tp)
    if origin is Literal:
        return " \\| ".join(f"`{a}`" for a in get_args(tp))
    if origin in (typing.Union, types.UnionType):
        parts = [describe_type_for_docs(a) for a in get_args(tp) if a is not type(None)]
        return " or ".join(parts) + (" or unset" if type(None) in get_args(tp) else "")
    if origin is list:
        return f"list of {describe_type_for_docs(get_args(tp)[0])}"
    return getattr(tp, "__name__", str(tp))
