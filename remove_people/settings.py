"""Typed, bounded settings: every value from YAML, ``--set`` or a flag is checked before any work.

Why one checker: a setting reaches the code from three places (``configs/default.yaml``,
``--config FILE``, ``--set KEY=VALUE`` and the flags that stand for one), and a value of
the wrong type or size used to surface deep in a run as a traceback or a 40 GB
allocation (``refine.dilate=100000``). Each setting is declared once, as a dataclass
field whose default and bounds sit side by side (:func:`param`); plugin ``Params`` and
the other sections (``remove_people/sections.py``: ``run``, ``models``, ``eval``,
``executor``) are checked by the same code, and a bad value is one line naming the key,
the value and what is accepted.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from remove_people.errors import UsageError

_MISSING = dataclasses.MISSING
#: The words a switch accepts, in settings and in environment variables alike (REMOVE_PEOPLE_OFFLINE).
TRUE_WORDS = frozenset({"true", "yes", "on", "1"})
FALSE_WORDS = frozenset({"false", "no", "off", "0"})


def is_true_word(text: str) -> bool:
    """Whether ``text`` is one of :data:`TRUE_WORDS`, whatever its case and surrounding spaces."""
    return text.strip().lower() in TRUE_WORDS


@dataclass(frozen=True)
class Bounds:
    """What a field accepts beyond its type: a numeric range, a set of words, a list length.

    ``kind="path"``: a text that names a file or folder (a number there is a typo, not a name).
    """

    lo: float | None = None
    hi: float | None = None
    choices: tuple[str, ...] = ()
    length: int | None = None
    kind: str = ""


def param(
    default: Any = _MISSING,
    *,
    lo: float | None = None,
    hi: float | None = None,
    choices: Iterable[str] = (),
    length: int | None = None,
    kind: str = "",
    default_factory: Any = _MISSING,
) -> Any:
    """A dataclass field with its default and its bounds side by side.

    ``dilate: int = param(9, lo=0, hi=512)``; ``strategy: str = param("crop", choices=("crop", "full"))``.
    """
    meta = {"bounds": Bounds(lo, hi, tuple(choices), length, kind)}
    if default_factory is not _MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def bounds_of(f: dataclasses.Field) -> Bounds:
    return f.metadata.get("bounds") or Bounds()


# --------------------------------------------------------------------------- types


def _type_text(typ: Any) -> str:
    """A field's annotation as text (``"int | None"``), whether or not the module postpones annotations."""
    if isinstance(typ, str):
        text = typ
    elif isinstance(typ, type):
        text = typ.__name__
    else:
        text = str(typ)
    text = text.replace("typing.", "").replace("NoneType", "None")
    # Optional[X] -> X | None; Union[a, b] -> a | b (third-party plugins written without PEP 604)
    text = re.sub(r"Optional\[(.+)\]$", r"\1 | None", text)
    m = re.fullmatch(r"Union\[(.+)\]", text)
    if m:
        text = " | ".join(_split_top(m.group(1), ","))
    return text


def _split_top(text: str, sep: str) -> list[str]:
    """Split at ``sep`` outside brackets: ``"list[int] | None"`` -> ``["list[int]", "None"]``."""
    out, depth, cur = [], 0, ""
    for ch in text:
        depth += ch == "["
        depth -= ch == "]"
        if ch == sep and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    out.append(cur.strip())
    return [p for p in out if p]


def _alternatives(typ: Any) -> list[str]:
    return _split_top(_type_text(typ), "|")


class _Mismatch(Exception):
    """The value is not of this alternative (another may still take it)."""


def _number_text(text: str) -> str:
    return text.strip().replace("_", "")


def _convert(value: Any, alt: str, b: Bounds) -> Any:
    """``value`` as the type ``alt``, or ``_Mismatch``; bounds are checked by the caller."""
    base = alt.split("[", 1)[0].strip()
    if base in ("Any", "object"):
        return value
    if base == "None":
        if value is None:
            return None
        raise _Mismatch
    if value is None or isinstance(value, Mapping) and base not in ("dict", "Mapping"):
        raise _Mismatch
    if base == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in TRUE_WORDS | FALSE_WORDS:
            return is_true_word(value)
        raise _Mismatch
    if base == "int":
        if isinstance(value, bool):
            raise _Mismatch
        if isinstance(value, int):
            return value
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            return int(value)
        if isinstance(value, str) and re.fullmatch(r"[+-]?\d+", _number_text(value)):
            return int(_number_text(value))
        raise _Mismatch
    if base == "float":
        if isinstance(value, bool):
            raise _Mismatch
        if isinstance(value, (int, float)):
            number = float(value)
        elif isinstance(value, str):
            try:
                number = float(_number_text(value))
            except ValueError:
                raise _Mismatch from None
        else:
            raise _Mismatch
        if not math.isfinite(number):
            raise _Mismatch
        return number
    if base in ("str", "Path", "PathLike"):
        if not isinstance(value, str):
            raise _Mismatch
        if b.choices:  # words match whatever their case (--format PNG), and are stored as declared
            for choice in b.choices:
                if value.strip().lower() == choice.lower():
                    return choice
        return value
    if base in ("list", "tuple", "List", "Tuple", "Sequence"):
        if not isinstance(value, (list, tuple)):
            raise _Mismatch
        inner = alt[alt.index("[") + 1 : -1] if "[" in alt else "Any"
        inner_alts = _split_top(inner.split(",")[0], "|") if inner != "Any" else ["Any"]
        return [_check_one(v, inner_alts, b) for v in value]
    if base in ("dict", "Mapping"):
        if isinstance(value, Mapping):
            return dict(value)
        raise _Mismatch
    return value  # a type this checker does not know: the plugin checks it itself


def _in_bounds(value: Any, b: Bounds) -> bool:
    if isinstance(value, bool) or value is None:
        return True
    if isinstance(value, (int, float)):
        return (b.lo is None or value >= b.lo) and (b.hi is None or value <= b.hi)
    if isinstance(value, str) and b.choices:
        return value in b.choices
    if isinstance(value, str) and b.kind == "device":
        return re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?|\d+(,\d+)*", value.strip()) is not None
    return True


def _check_one(value: Any, alts: list[str], b: Bounds) -> Any:
    """``value`` converted to the first alternative that takes it and within bounds; else ``_Mismatch``."""
    # A word like "auto" may stand beside a number (inpaint_workers: auto | N): try exact types first.
    ordered = sorted(alts, key=lambda a: 0 if _exact(value, a) else 1)
    for alt in ordered:
        try:
            converted = _convert(value, alt, b)
        except _Mismatch:
            continue
        if not isinstance(converted, list) and not _in_bounds(converted, b):
            continue
        return converted
    raise _Mismatch


def _exact(value: Any, alt: str) -> bool:
    base = alt.split("[", 1)[0].strip()
    return {
        "None": value is None,
        "bool": isinstance(value, bool),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, float),
        "str": isinstance(value, str),
        "list": isinstance(value, (list, tuple)),
    }.get(base, False)


def describe(typ: Any, b: Bounds, with_null: bool = True) -> str:
    """What a field accepts, in words: ``an integer from 0 to 512``, ``one of crop, full or null``."""
    alts = [a for a in _alternatives(typ) if with_null or a != "None"]
    parts: list[str] = []

    def rng(what: str) -> str:
        fmt = (lambda x: f"{x:g}") if what != "an integer" else (lambda x: f"{int(x)}")
        if b.lo is not None and b.hi is not None:
            return f"{what} from {fmt(b.lo)} to {fmt(b.hi)}"
        if b.lo is not None:
            return f"{what} of at least {fmt(b.lo)}"
        if b.hi is not None:
            return f"{what} of at most {fmt(b.hi)}"
        return what

    for alt in alts:
        base = alt.split("[", 1)[0].strip()
        if base == "int":
            parts.append(rng("an integer"))
        elif base == "float":
            parts.append(rng("a finite number"))
        elif base == "bool":
            parts.append("true or false")
        elif base in ("str", "Path"):
            if len(b.choices) == 1:
                parts.append(b.choices[0])
            elif b.choices:
                parts.append("one of " + ", ".join(b.choices))
            elif b.kind == "device":
                parts.append("a device: auto, cpu, cuda, cuda:N")
            else:
                parts.append("a path" if b.kind == "path" else "a text")
        elif base in ("list", "tuple"):
            n = f"{b.length} " if b.length else ""
            inner = alt[alt.index("[") + 1 : -1] if "[" in alt else "values"
            what = {"int": "integers", "float": "finite numbers", "str": "names"}.get(inner.split("|")[0].strip(), "values")
            lim = rng("").strip()
            parts.append(f"a list of {n}{what}" + (f" ({lim})" if lim else "") + ", e.g. [0, 1]")
        elif base == "None":
            parts.append("null")
        elif base in ("dict", "Mapping"):
            parts.append("a mapping")
    return " or ".join(dict.fromkeys(parts)) or "a value"


def check_field(f: dataclasses.Field, value: Any, where: str, show_value: bool = True) -> Any:
    """``value`` converted to field ``f``'s type, within its bounds; else a ``UsageError`` naming ``where``.

    ``show_value=False`` when ``where`` already shows it (``--set refine.dilate=abc``, ``--max-pixels -5``);
    a flag (``where`` starting with ``--`` other than ``--set``) cannot be null, so null is not offered.
    """
    b = bounds_of(f)
    try:
        out = _check_one(value, _alternatives(f.type), b)
        if isinstance(out, list) and b.length is not None and len(out) != b.length:
            raise _Mismatch
    except _Mismatch:
        shown = repr(value)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        head = f"{where} = {shown}" if show_value else where
        flag = where.startswith("--") and not where.startswith("--set")
        raise UsageError(f"{head}: expected {describe(f.type, b, with_null=not flag)}") from None
    return out


def fields_of(cls: type) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cls)}


def check_mapping(cls: type, values: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The checked, converted values of a (partial) mapping for the dataclass ``cls``.

    Unknown keys are a ``UsageError`` listing the valid ones; a field whose bounds carry
    a nested dataclass (``section=``) is checked key by key inside.
    """
    fields = fields_of(cls)
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise UsageError(f"unknown parameter(s) {', '.join(unknown)} for {where}; valid: {', '.join(fields) or '(none)'}")
    out: dict[str, Any] = {}
    for key, value in values.items():
        nested = fields[key].metadata.get("section")
        if nested is not None:
            if not isinstance(value, Mapping):
                raise UsageError(f"{where}.{key}: expected a mapping of {', '.join(fields_of(nested))}")
            out[key] = check_mapping(nested, value, f"{where}.{key}")
        else:
            out[key] = check_field(fields[key], value, f"{where}.{key}")
    return out


def make_params(params_cls: type, values: Mapping[str, Any], where: str) -> Any:
    """Instantiate ``params_cls`` from ``values``: types and bounds checked, unknown keys listed."""
    kwargs = check_mapping(params_cls, values, where)
    missing = [
        f.name for f in dataclasses.fields(params_cls)
        if f.name not in kwargs and f.default is _MISSING and f.default_factory is _MISSING and f.init
    ]  # fmt: skip
    if missing:
        raise UsageError(f"{where}: no value for {', '.join(missing)} (the plugin declares no default)")
    try:
        return params_cls(**kwargs)
    except (TypeError, ValueError) as err:
        raise UsageError(f"{where}: {err}") from None


def defaults_of(cls: type) -> dict[str, Any]:
    """The declared defaults of a settings dataclass, nested sections included (for the YAML check)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        nested = f.metadata.get("section")
        if nested is not None:
            out[f.name] = f.default_factory()  # type: ignore[misc]
        elif f.default is not _MISSING:
            out[f.name] = f.default
        elif f.default_factory is not _MISSING:
            out[f.name] = f.default_factory()
    return out


def section(cls: type, **defaults: Any) -> Any:
    """A field holding a nested settings mapping checked against ``cls`` (``executor.ray.detect``).

    ``defaults``: the mapping's own defaults where they differ from ``cls``'s (each Ray stage
    has its own); without any, ``cls``'s defaults.
    """
    return dataclasses.field(
        default_factory=lambda: dict(defaults) if defaults else defaults_of(cls), metadata={"section": cls}
    )
