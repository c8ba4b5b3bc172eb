"""Configuration: defaults, then a file, then environment variables, validated once.

Load order: ``config/default.toml``; then the TOML file named by ``CIMTWIN_CONFIG``;
then ``CIMTWIN_SECTION__KEY`` environment variables (plus the short names in
``SHORT_ENV``); then explicit overrides (tests, CLI flags). The result is validated at
start-up: an error names the key, the value and what is allowed.
"""
from __future__ import annotations

import copy
import json
import os
import tomllib
from pathlib import Path
from typing import Any, Callable, Mapping

from layers.model import CLASSIFICATIONS  # defined once, in layers.model (re-exported)
from layers.store import BACKENDS as LAYER_BACKENDS
from server.metrics.bus import BUS_BACKENDS
from server.metrics.store import STORE_BACKENDS
from tiles.glb.encode import COMPRESSIONS

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FILE = PROJECT_ROOT / "config" / "default.toml"

#: Short environment names for the settings people change most.
SHORT_ENV = {
    "CIMTWIN_DATA_DIR": ("data", "dir"),
    "CIMTWIN_HOST": ("server", "host"),
    "CIMTWIN_PORT": ("server", "port"),
}
#: CIMTWIN_* variables that are not configuration keys (secrets and paths).
NOT_CONFIG_ENV = {"CIMTWIN_CONFIG", "CIMTWIN_INGEST_TOKEN", "CIMTWIN_ADMIN_TOKEN",
                  "CIMTWIN_NODE_MODULES"}


class ConfigError(Exception):
    """A configuration value that is missing, of the wrong type or not allowed."""


def _one_of(*allowed: str) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        return None if value in allowed else f"allowed values: {', '.join(allowed)}"
    return check


def _registered(backends: Mapping[str, Any]) -> Callable[[Any], str | None]:
    """A URL whose scheme is a key of ``backends``, read when the config is checked.

    The dicts are the backend registries themselves (``layers.store.BACKENDS``,
    ``server.metrics.store.STORE_BACKENDS``, ``server.metrics.bus.BUS_BACKENDS``), so a
    backend is accepted here once it is registered there, and refused at start-up before.
    """
    def check(value: Any) -> str | None:
        scheme, sep, _ = value.partition("://") if isinstance(value, str) else ("", "", "")
        if sep and scheme in backends:
            return None
        return ("a URL whose scheme has a registered backend: "
                + ", ".join(s + "://" for s in backends))
    return check


def _port(value: Any) -> str | None:
    return None if 0 <= value <= 65535 else "a port number from 0 to 65535"


def _non_negative(value: Any) -> str | None:
    return None if value >= 0 else "a number >= 0"


def _positive(value: Any) -> str | None:
    return None if value > 0 else "a number > 0"


def _levels(value: Any) -> str | None:
    ok = isinstance(value, list) and all(v in CLASSIFICATIONS for v in value)
    return None if ok else f"a list of: {', '.join(CLASSIFICATIONS)}"


def _home(value: Any) -> str | None:
    ok = (isinstance(value, list) and len(value) == 3
          and all(isinstance(v, (int, float)) for v in value)
          and -180 <= value[0] <= 180 and -90 <= value[1] <= 90)
    return None if ok else "[longitude, latitude, height] in degrees and metres"


#: (section, key) -> (python type, extra check or None). Keys not listed are refused.
SCHEMA: dict[tuple[str, str], tuple[type | tuple[type, ...], Callable | None]] = {
    ("server", "host"): (str, None),
    ("server", "port"): (int, _port),
    ("server", "sse_keepalive_s"): ((int, float), _positive),
    ("server", "log_format"): (str, _one_of("text", "json")),
    ("data", "dir"): (str, None),
    ("viewer", "cesium_dir"): (str, None),
    ("viewer", "imagery"): (str, _one_of("offline", "url")),
    ("viewer", "imagery_url"): (str, None),
    ("viewer", "home"): (list, _home),
    ("viewer", "language"): (str, _one_of("zh", "en")),
    ("tiles", "max_triangles_per_tile"): (int, _positive),
    ("tiles", "max_texture_px"): (int, _positive),
    ("tiles", "compression"): (str, _one_of(*COMPRESSIONS)),
    ("tiles", "workers"): (int, _non_negative),
    ("tiles", "dask_scheduler"): (str, None),
    ("tiles", "geoid_offset_m"): ((int, float), None),
    ("tiles", "geoid"): (str, None),
    ("layers", "url"): (str, _registered(LAYER_BACKENDS)),
    ("metrics", "store_url"): (str, _registered(STORE_BACKENDS)),
    ("metrics", "bus_url"): (str, _registered(BUS_BACKENDS)),
    ("metrics", "retention_days"): (int, _positive),
    ("auth", "anonymous_levels"): (list, _levels),
}
#: Sections whose keys are free-form tables owned by one part (validated there).
OPEN_SECTIONS = {("metrics", "alarms")}


class Config(dict):
    """The validated configuration: a nested dict with a few derived paths."""

    @property
    def data_dir(self) -> Path:
        return Path(self["data"]["dir"]).expanduser().resolve()

    @property
    def cesium_dir(self) -> Path:
        path = Path(self["viewer"]["cesium_dir"]).expanduser()
        return path if path.is_absolute() else PROJECT_ROOT / path


def load_config(overrides: dict | None = None, env: dict[str, str] | None = None) -> Config:
    """Load, merge and validate the configuration (see module docstring for the order)."""
    env = os.environ if env is None else env
    merged = _read_toml(DEFAULT_FILE)
    if env.get("CIMTWIN_CONFIG"):
        _merge(merged, _read_toml(Path(env["CIMTWIN_CONFIG"])), source=env["CIMTWIN_CONFIG"])
    _merge(merged, _from_env(env), source="environment")
    if overrides:
        _merge(merged, copy.deepcopy(overrides), source="overrides")
    _validate(merged, _read_toml(DEFAULT_FILE))
    return Config(merged)


def _read_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path} (check CIMTWIN_CONFIG)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def _merge(base: dict, extra: dict, source: str) -> None:
    for section, values in extra.items():
        if not isinstance(values, dict):
            raise ConfigError(f"{source}: top-level key '{section}' must be a [section] table")
        target = base.setdefault(section, {})
        for key, value in values.items():
            if isinstance(value, dict) and isinstance(target.get(key), dict):
                target[key].update(value)
            else:
                target[key] = value


def _from_env(env: dict[str, str]) -> dict:
    """CIMTWIN_SECTION__KEY=value -> {section: {key: value}} (value parsed as TOML/JSON)."""
    result: dict[str, dict] = {}
    for name, raw in env.items():
        if not name.startswith("CIMTWIN_") or name in NOT_CONFIG_ENV:
            continue
        if name in SHORT_ENV:
            section, key = SHORT_ENV[name]
        elif "__" in name:
            section, _, key = name[len("CIMTWIN_"):].lower().partition("__")
        else:
            continue
        result.setdefault(section, {})[key] = _parse_env_value(raw, section, key)
    return result


def _parse_env_value(raw: str, section: str, key: str) -> Any:
    expected = SCHEMA.get((section, key), (None, None))[0]
    if expected is str:
        return raw
    if expected is None:  # a key without a declared type: TOML-ish literal, else text
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            return raw
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        raise ConfigError(f"environment value for {section}.{key} is not a valid "
                          f"{getattr(expected, '__name__', 'number')}: {raw!r}") from None


def _rule(section: str, key: str, defaults: dict):
    """The (type, check) for a key: from SCHEMA, else the type of its default value."""
    if (section, key) in SCHEMA:
        return SCHEMA[(section, key)]
    if key in defaults.get(section, {}):
        value = defaults[section][key]
        kind = (int, float) if isinstance(value, (int, float)) and not isinstance(value, bool) \
            else type(value)
        return kind, None
    return None


def _validate(config: dict, defaults: dict) -> None:
    for section, values in config.items():
        if not isinstance(values, dict):
            raise ConfigError(f"'{section}' must be a [section] table")
        for key, value in values.items():
            if (section, key) in OPEN_SECTIONS:
                continue
            rule = _rule(section, key, defaults)
            if rule is None:
                known = sorted(defaults.get(section, {}))
                hint = f"known keys in [{section}]: {', '.join(known)}" if known else \
                    f"known sections: {', '.join(sorted(defaults))}"
                raise ConfigError(f"unknown config key {section}.{key} ({hint})")
            expected, check = rule
            if isinstance(value, bool) != (expected is bool) or not isinstance(value, expected):
                names = expected.__name__ if isinstance(expected, type) else \
                    " or ".join(t.__name__ for t in expected)
                raise ConfigError(f"config key {section}.{key} must be {names}, got {value!r}")
            problem = check(value) if check else None
            if problem:
                raise ConfigError(
                    f"config key {section}.{key} = {value!r} is not allowed: {problem}")
    for section, key in SCHEMA:
        if key not in config.get(section, {}):
            raise ConfigError(f"config key {section}.{key} is missing (see config/default.toml)")
