"""Configuration: ``configs/default.yaml`` overlaid by ``--config FILE`` and ``--set key=value``.

Why one loader: the CLI, the Python API, tests and benchmarks all build stages
the same way, so a default changes in exactly one file and an unknown key fails
the same way everywhere (with the list of valid keys).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

from remove_people.errors import UsageError

STAGES = ("detect", "refine", "inpaint")


def default_config_path() -> Path:
    """``configs/default.yaml`` in a source checkout, or its copy inside an installed wheel."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "configs" / "default.yaml", here / "_configs" / "default.yaml"):
        if candidate.exists():
            return candidate
    raise FileNotFoundError("configs/default.yaml is missing from this installation")


def load_yaml(path: Path) -> dict[str, Any]:
    """Read a YAML mapping; a bad file is a usage error naming the file."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise UsageError(f"{path}: cannot read config ({err.strerror})") from None
    except yaml.YAMLError as err:
        raise UsageError(f"{path}: not valid YAML ({err})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"{path}: a config file must be a mapping of sections")
    return data


def _merge(base: dict[str, Any], over: Mapping[str, Any], where: str) -> None:
    """Overlay ``over`` onto ``base`` in place; keys unknown to ``base`` are errors, except plugin sections."""
    for key, value in over.items():
        if key not in base:
            # A section for a third-party plugin (e.g. inpaint.myplugin) is new by nature.
            if where.split(".")[0] in STAGES and where.count(".") == 0 and isinstance(value, dict):
                base[key] = copy.deepcopy(dict(value))
                continue
            valid = ", ".join(sorted(base)) if isinstance(base, dict) else ""
            raise UsageError(f"unknown config key {where}.{key}; valid keys in {where}: {valid}")
        if isinstance(base[key], dict) and isinstance(value, Mapping):
            _merge(base[key], value, f"{where}.{key}")
        else:
            base[key] = value


def parse_value(text: str) -> Any:
    """A ``--set`` value: YAML scalars and lists (``25``, ``0.5``, ``true``, ``null``, ``[0, 1]``)."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


@dataclass
class Config:
    """The merged configuration: ``data`` mirrors ``configs/default.yaml``."""

    data: dict[str, Any]

    @classmethod
    def load(cls, config_files: Iterable[Path] = (), overrides: Iterable[str] = ()) -> "Config":
        data = load_yaml(default_config_path())
        for f in config_files:
            for section, values in load_yaml(Path(f)).items():
                if section not in data:
                    raise UsageError(f"{f}: unknown section {section!r}; valid: {', '.join(data)}")
                if isinstance(values, Mapping):
                    _merge(data[section], values, section)
                else:
                    raise UsageError(f"{f}: section {section!r} must be a mapping")
        cfg = cls(data)
        for item in overrides:
            cfg.set(item)
        return cfg

    def set(self, item: str) -> None:
        """Apply one ``section.key=value`` (or ``stage.plugin.key=value``) override."""
        key, sep, raw = item.partition("=")
        if not sep or "." not in key:
            raise UsageError(f"--set {item!r}: expected SECTION.KEY=VALUE, e.g. refine.dilate=25")
        value = parse_value(raw)
        parts = key.strip().split(".")
        section = parts[0]
        if section not in self.data:
            raise UsageError(f"--set {item!r}: unknown section {section!r}; valid: {', '.join(self.data)}")
        node = self.data[section]
        if section in STAGES and len(parts) == 2 and parts[1] not in node:
            # refine.dilate → the selected plugin's parameter
            plugin = node["plugin"]
            node = node.setdefault(plugin, {})
            parts = [section, plugin, parts[1]]
            if parts[2] not in node and self._plugin_fields(section, plugin) is not None:
                fields = self._plugin_fields(section, plugin) or []
                if parts[2] not in fields:
                    raise UsageError(
                        f"--set {item!r}: {plugin} has no parameter {parts[2]!r}; valid: {', '.join(fields) or '(none)'}"
                    )
        else:
            for p in parts[1:-1]:
                if p not in node or not isinstance(node[p], dict):
                    if section in STAGES and p not in node:
                        node[p] = {}
                    else:
                        raise UsageError(f"--set {item!r}: unknown key {p!r} in {section}")
                node = node[p]
        leaf = parts[-1]
        if section not in STAGES and leaf not in node:
            raise UsageError(f"--set {item!r}: unknown key {leaf!r}; valid: {', '.join(node)}")
        node[leaf] = value

    @staticmethod
    def _plugin_fields(stage: str, plugin: str) -> list[str] | None:
        import dataclasses

        from remove_people.stages import REGISTRIES

        try:
            cls = REGISTRIES[stage].get(plugin)
        except Exception:
            return None
        return [f.name for f in dataclasses.fields(cls.Params)]

    def select(self, stage: str, plugin: str | None) -> None:
        """Choose the plugin of ``stage`` (``--detector``, ``--refiner``, ``--inpainter``)."""
        if plugin:
            self.data[stage]["plugin"] = plugin

    def plugin_name(self, stage: str) -> str:
        return str(self.data[stage]["plugin"])

    def plugin_params(self, stage: str, plugin: str | None = None) -> dict[str, Any]:
        plugin = plugin or self.plugin_name(stage)
        return copy.deepcopy(self.data[stage].get(plugin) or {})

    @property
    def run(self) -> dict[str, Any]:
        return self.data["run"]


def build_stage(stage: str, name: str | None = None, config: Config | None = None, **overrides: Any) -> Any:
    """Build a stage plugin from its config section plus keyword overrides.

    ``build_stage("inpaint", "telea", radius=3)`` is how tests and the Python API make a stage.
    """
    from remove_people.stages import REGISTRIES

    if stage not in REGISTRIES:
        raise UsageError(f"unknown stage {stage!r}; valid: {', '.join(REGISTRIES)}")
    cfg = config or Config.load()
    name = name or cfg.plugin_name(stage)
    cls = REGISTRIES[stage].get(name)
    values = cfg.plugin_params(stage, name)
    values.update(overrides)
    return cls.from_mapping(values)
