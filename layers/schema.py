"""Validation per layer kind: projects (lifecycle stage and dates), facilities
(category), sensors (sensor_id). A bad row raises a LayerError naming the row (1-based,
as in the source file) and the field, so the data owner can fix it."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Callable

import pandas as pd

from layers.errors import LayerError
from layers.projects import project_details
from layers.vocab import (CATEGORIES, CATEGORY_SYNONYMS, PROJECT_DATES, STAGE_SYNONYMS,
                          STAGES, normalise)

#: Dates outside these years are placeholders ("0001-01-01", "9999-12-31"), not dates.
PLAUSIBLE_YEARS = (1900, 2100)


@dataclass
class KindResult:
    """The validated frame plus what the kind adds to the layer's info."""

    frame: Any
    schema: dict[str, str] = field(default_factory=dict)
    temporal: list[str] | None = None
    warnings: list[str] = field(default_factory=list)


def _blank(value: Any) -> bool:
    """None, NaN, NaT (GDAL's null date) or an empty string."""
    if isinstance(value, str):
        return not value.strip()
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _row_name(frame: Any, index: int) -> str:
    """'row 3' or 'row 3 (name)' for messages."""
    name = frame["name"].iloc[index] if "name" in frame.columns else None
    return f"row {index + 1}" + (f" ({name})" if not _blank(name) else "")


def _require_column(frame: Any, column: str, kind: str, hint: str) -> None:
    if column not in frame.columns:
        available = ", ".join(c for c in frame.columns if c != frame.geometry.name)
        raise LayerError(f"a {kind} layer needs a '{column}' column ({hint}); the file has: "
                         f"{available}. Map one with field_map={{'{column}': '<column>'}} "
                         f"(CLI --map {column}=<column>) or give defaults={{'{column}': ...}}")


def parse_date(value: Any, where: str) -> str | None:
    """An ISO 8601 date (or datetime) -> 'YYYY-MM-DD'; blank -> None; else LayerError."""
    if _blank(value):
        return None
    if isinstance(value, (datetime, date)):
        parsed = value if isinstance(value, date) and not isinstance(value, datetime) else value.date()
    else:
        text = str(value).strip()
        try:
            parsed = (datetime.fromisoformat(text.replace("Z", "+00:00")).date()
                      if "T" in text or " " in text else date.fromisoformat(text))
        except ValueError:
            raise LayerError(f"{where}: {text!r} is not an ISO 8601 date; "
                             "write it as YYYY-MM-DD (e.g. 2024-06-30)") from None
    if not PLAUSIBLE_YEARS[0] <= parsed.year <= PLAUSIBLE_YEARS[1]:
        raise LayerError(f"{where}: {parsed.isoformat()} looks like a placeholder, not a real "
                         "date; leave it empty if unknown")
    return parsed.isoformat()


def validate_projects(frame: Any) -> KindResult:
    """Normalise stage (English or Chinese) and lifecycle dates; add the time extent."""
    _require_column(frame, "stage", "projects", "planned, approved, under_construction, completed")
    frame = frame.copy()
    stages, labels, starts = [], [], []
    dates = {c: [] for c in PROJECT_DATES}
    for i, raw in enumerate(frame["stage"].tolist()):
        stage = normalise(raw, STAGE_SYNONYMS)
        if stage is None:
            raise LayerError(f"{_row_name(frame, i)}, field 'stage': {raw!r} is not a lifecycle "
                             f"stage; use one of {', '.join(STAGES)} or 规划/已批复/在建/竣工")
        stages.append(stage)
        labels.append(STAGES[stage])
        row = {c: parse_date(frame[c].iloc[i], f"{_row_name(frame, i)}, field '{c}'")
               if c in frame.columns else None for c in PROJECT_DATES}
        _check_order(row, _row_name(frame, i))
        for c in PROJECT_DATES:
            dates[c].append(row[c])
        given = [d for d in row.values() if d]
        starts.append(min(given) if given else None)
    frame["stage"], frame["stage_zh"] = stages, labels
    for column, values in dates.items():
        frame[column] = values
    frame["lifecycle_start"], frame["lifecycle_end"] = starts, dates["completion_date"]
    frame, details, warnings = project_details(frame, _row_name, parse_date)
    schema = {c: "date" for c in (*PROJECT_DATES, "lifecycle_start", "lifecycle_end")}
    undated = sum(1 for s in starts if s is None)
    if undated:
        warnings.append(f"{undated} projects have no lifecycle date; datetime queries skip them")
    return KindResult(frame, schema | details, ["lifecycle_start", "lifecycle_end"], warnings)


def _check_order(row: dict[str, str | None], where: str) -> None:
    """Lifecycle dates must not go backwards (e.g. completion before start)."""
    given = [(c, row[c]) for c in PROJECT_DATES if row[c]]
    for (first, a), (second, b) in zip(given, given[1:]):
        if b < a:
            raise LayerError(f"{where}, field '{second}': {b} is before {first} {a}; "
                             "lifecycle dates must follow planned <= approved <= start <= completion")


def validate_facilities(frame: Any) -> KindResult:
    """Normalise category (English key, OSM tag or Chinese label) and add category_zh."""
    _require_column(frame, "category", "facilities", "school, hospital, park, police, ...")
    frame = frame.copy()
    keys = []
    for i, raw in enumerate(frame["category"].tolist()):
        key = normalise(raw, CATEGORY_SYNONYMS) or (str(raw).strip() if str(raw).strip() in CATEGORIES else None)
        if _blank(raw) or key is None:
            raise LayerError(f"{_row_name(frame, i)}, field 'category': {raw!r} is not a facility "
                             f"category; use one of {', '.join(CATEGORIES)} (or its Chinese label)")
        keys.append(key)
    frame["category"] = keys
    frame["category_zh"] = [CATEGORIES[k] for k in keys]
    return KindResult(frame)


def validate_sensors(frame: Any) -> KindResult:
    """Every sensor needs a unique sensor_id and a point location."""
    _require_column(frame, "sensor_id", "sensors", "the id observations are posted with")
    frame = frame.copy()
    seen: dict[str, int] = {}
    ids = []
    for i, raw in enumerate(frame["sensor_id"].tolist()):
        if _blank(raw):
            raise LayerError(f"{_row_name(frame, i)}, field 'sensor_id' is empty; every sensor needs one")
        text = str(raw).strip()
        if text in seen:
            raise LayerError(f"{_row_name(frame, i)}, field 'sensor_id': {text!r} repeats row "
                             f"{seen[text] + 1}; sensor ids must be unique")
        seen[text] = i
        ids.append(text)
        geometry = frame.geometry.iloc[i]
        if geometry is None or geometry.is_empty or geometry.geom_type != "Point":
            raise LayerError(f"{_row_name(frame, i)}: sensor {text!r} needs a point location")
    frame["sensor_id"] = ids
    return KindResult(frame, {"sensor_id": "string"})


#: kind -> validator; kinds not listed are stored as delivered.
VALIDATORS: dict[str, Callable[[Any], KindResult]] = {
    "projects": validate_projects, "facilities": validate_facilities,
    "sensors": validate_sensors,
}


def validate_kind(frame: Any, kind: str) -> KindResult:
    """Apply the kind's validation (a no-op for buildings and other)."""
    validator = VALIDATORS.get(kind)
    return validator(frame) if validator else KindResult(frame)
