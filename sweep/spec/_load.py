"""YAML file → validated, frozen pydantic model, with errors that name the place.

Every failure is a ConfigError whose one-line message names the file, the key (and
its line:column where the YAML gives one), the value received and the fix.
"""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from ..errors import ConfigError, printable

M = TypeVar("M", bound=BaseModel)


class _Loader(yaml.SafeLoader):
    """SafeLoader that reads 1e-4 as a float, as YAML 1.2 does (PyYAML alone gives a string),
    refuses aliases (`*name`: a few hundred bytes of nested aliases expand to billions of
    nodes) and refuses a key given twice in one mapping (YAML would keep the last silently)."""

    def compose_node(self, parent, index):  # type: ignore[override]
        if self.check_event(yaml.events.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, f"an alias (*{event.anchor}) is not allowed in a spec; write the value out "
                "where it is used", event.start_mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):  # type: ignore[override]
        if isinstance(node, yaml.MappingNode):
            seen: dict = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.setdefault(key, key_node)
                except TypeError:  # an unhashable key: the constructor says so itself
                    continue
                if first is not key_node:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"key {printable(repr(key))} is given twice in this mapping (first at "
                        f"line {first.start_mark.line + 1}); keep one", key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                  |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                  |\.[0-9_]+(?:[eE][-+][0-9]+)?
                  |[-+]?\.(?:inf|Inf|INF)
                  |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."))


def read_yaml(path: Path) -> tuple[Any, Any]:
    """Return (data, node) of a YAML file; a syntax error names line:column."""
    if not path.exists():
        raise ConfigError(f"{path}: file not found; check the path (relative paths are "
                          f"taken from the current directory {Path.cwd()})")
    if not path.is_file():
        raise ConfigError(f"{path}: is not a file; give the path of a YAML spec")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read ({exc}); give a readable UTF-8 YAML file") from None
    try:
        node = yaml.compose(text, Loader=_Loader)
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = (exc.problem or exc.context or "invalid YAML").strip()
        raise ConfigError(f"{where}: YAML syntax error: {problem}; fix the YAML at that line") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: YAML error: {str(exc).splitlines()[0]}; fix the YAML") from None
    return data, node


def validate(model: type[M], data: Any, path: Path, node: Any = None, what: str = "spec") -> M:
    """Validate `data` against `model`; the first error becomes one clear line."""
    if data is None:
        raise ConfigError(f"{path}: the file is empty; write a {what} as a YAML mapping")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a {what} must be a YAML mapping of keys to values, "
                          f"but got {type(data).__name__}")
    bad = [k for k in _all_keys(data) if not isinstance(k, str)]
    if bad:
        raise ConfigError(f"{path}: key {bad[0]!r} is not a string; quote it or rename it")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        first = errors[0]
        more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
        # one line, whatever the spec's keys and values hold (a key may contain a newline)
        line = (_describe(model, first, path, node) + more).replace("\r", "\\r").replace("\n", "\\n")
        raise ConfigError(line) from None


def _all_keys(data: Any):
    if isinstance(data, dict):
        for k, v in data.items():
            yield k
            yield from _all_keys(v)
    elif isinstance(data, list):
        for v in data:
            yield from _all_keys(v)


def key_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _mark(node: Any, loc: tuple) -> str:
    """line:column of the YAML node at `loc` (the key for mappings), or ''."""
    best = node
    cur = node
    for part in loc:
        if cur is None:
            break
        if isinstance(cur, yaml.MappingNode) and isinstance(part, str):
            nxt = None
            for k, v in cur.value:
                if getattr(k, "value", None) == part:
                    best, nxt = k, v
                    break
            cur = nxt
        elif isinstance(cur, yaml.SequenceNode) and isinstance(part, int) and part < len(cur.value):
            cur = cur.value[part]
            best = cur
        else:
            break
    if best is None or not hasattr(best, "start_mark"):
        return ""
    return f":{best.start_mark.line + 1}:{best.start_mark.column + 1}"


def _fields_at(model: Any, loc: tuple) -> list[str] | None:
    """Field names of the pydantic model reached by walking `loc` from `model`."""
    tp = model
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(part) if isinstance(part, str) else None
            if field is None:
                return None
            tp = field.annotation
        else:
            args = typing.get_args(tp)
            if not args:
                return None
            tp = args[-1]
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return list(tp.model_fields)
    return None


def _unwrap(tp: Any) -> Any:
    # Optional[X] / X | None → X
    args = typing.get_args(tp)
    if args and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return tp


def _describe(model: Any, err: dict, path: Path, node: Any) -> str:
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p and p.endswith("]")))
    where = f"{path}{_mark(node, loc)}"
    key = key_path(loc)
    if not key.isprintable():  # a key with a newline or tab: shown escaped, the message stays one line
        key = repr(key)[1:-1]
    kind = err["type"]
    value = err.get("input")
    if kind == "extra_forbidden":
        allowed = _fields_at(model, loc[:-1])
        hint = f"allowed keys here: {', '.join(allowed)}" if allowed else "remove it"
        return f"{where}: unknown key '{key}'; check the spelling ({hint})"
    if kind == "missing":
        return f"{where}: missing required key '{key}'; add it"
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if msg.startswith("Assertion failed, "):
        msg = msg[len("Assertion failed, "):]
    shown = _short(value)
    return f"{where}: key '{key}' has invalid value {shown}: {msg}"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def load_model(model: type[M], path: str | Path, what: str) -> M:
    """Read and validate a YAML file into `model`."""
    p = Path(path)
    data, node = read_yaml(p)
    return validate(model, data, p, node, what)


def locate(path: str | Path, loc: tuple) -> str:
    """':line:column' of the key at `loc` in the YAML file `path` (for an error found after
    validation, e.g. a hyperparameter the estimator does not take), or '' when not found."""
    try:
        _, node = read_yaml(Path(path))
    except Exception:  # the place is a courtesy: the error it decorates is what matters
        return ""
    return _mark(node, loc) if node is not None else ""
