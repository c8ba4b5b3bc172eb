"""A construction project's lifecycle details beyond its stage: planned dates per
milestone, permit number, developer, planning limits and the link to its BIM tileset.

Every project layer carries all of these columns (empty where the delivery had none),
so an official can fill them in later through OGC API Part 4 without a re-import.
The names match what the analysis tools read (max_height_m, far, coverage, bim_tileset).
"""
from __future__ import annotations

import math
from typing import Any

from layers.errors import LayerError

#: Planned date of each milestone (the actual dates are layers.vocab.PROJECT_DATES).
PLANNED_DATES = ("approved_date_planned", "start_date_planned", "completion_date_planned")
TEXT_FIELDS = ("permit_number", "developer", "bim_tileset")
#: Planning limits: maximum height (m), floor-area ratio, site coverage (fraction 0-1).
LIMITS = ("max_height_m", "far", "coverage")
#: Column names found in Chinese deliveries -> field.
COLUMN_SYNONYMS = {
    "建设单位": "developer", "开发商": "developer", "开发单位": "developer",
    "许可证号": "permit_number", "施工许可证号": "permit_number",
    "规划许可证号": "permit_number", "限高": "max_height_m", "建筑限高": "max_height_m",
    "容积率": "far", "建筑密度": "coverage", "BIM模型": "bim_tileset",
}


def project_details(frame: Any, row_name: Any, parse_date: Any
                    ) -> tuple[Any, dict[str, str], list[str]]:
    """(frame with every detail column, their schema, warnings); bad values raise."""
    frame = frame.rename(columns={k: v for k, v in COLUMN_SYNONYMS.items()
                                  if k in frame.columns and v not in frame.columns})
    warnings: list[str] = []
    for column in PLANNED_DATES:
        values = frame[column].tolist() if column in frame.columns else [None] * len(frame)
        frame[column] = [parse_date(v, f"{row_name(frame, i)}, field '{column}'")
                         for i, v in enumerate(values)]
    for column in TEXT_FIELDS:
        values = frame[column].tolist() if column in frame.columns else [None] * len(frame)
        frame[column] = [_text(v) for v in values]
    for column in LIMITS:
        values = frame[column].tolist() if column in frame.columns else [None] * len(frame)
        numbers = [_limit(v, column, row_name(frame, i)) for i, v in enumerate(values)]
        if column == "coverage" and any(n is not None and n > 1 for n in numbers):
            warnings.append("coverage values above 1 were read as percent and divided by 100")
            numbers = [n / 100 if n is not None and n > 1 else n for n in numbers]
        frame[column] = [math.nan if n is None else n for n in numbers]
    schema = {**{c: "date" for c in PLANNED_DATES}, **{c: "string" for c in TEXT_FIELDS},
              **{c: "number" for c in LIMITS}}
    return frame, schema, warnings


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


def _limit(value: Any, column: str, where: str) -> float | None:
    if _text(value) is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise LayerError(f"{where}, field '{column}': {value!r} is not a number") from None
    if not math.isfinite(number) or number < 0 or (column == "coverage" and number > 100):
        raise LayerError(f"{where}, field '{column}': {value!r} is out of range "
                         "(limits are >= 0; coverage is a fraction 0-1 or a percent)")
    return number
