"""Construction projects, public facilities and sensors of the demo district.

All positions are in the local frame of ``layout`` (metres from ``layout.ORIGIN``).
Project dates are fixed relative to ``AS_OF`` (not the wall clock) so every run writes
the same bytes; the stage of each project matches the dates it has.
"""
from __future__ import annotations

from datetime import date, timedelta

import numpy as np
from shapely.geometry import Point, Polygon, box

from . import layout

#: The demo's "today": project stages and dates are consistent as of this date.
AS_OF = date(2025, 6, 1)
STAGES = ("planned", "approved", "under_construction", "completed")
STAGE_ZH = {"planned": "规划", "approved": "已批复", "under_construction": "在建",
            "completed": "竣工"}

#: (id, name, developer, block col, row, lot fractions fx0, fy0, fx1, fy1, stage, floors)
PROJECTS = (
    ("P01", "汉峪金谷超高层办公楼", "济南汉峪金谷置业有限公司", 3, 2, .05, .5, .45, .95, "under_construction", 68),
    ("P02", "CBD智慧城市运营中心", "济南中央商务区建设投资有限公司", 2, 3, .55, .05, .95, .45, "under_construction", 4),
    ("P03", "舜华路小学扩建工程", "历下区教育和体育局", 1, 1, .05, .05, .45, .4, "approved", 4),
    ("P04", "奥体西路人才公寓", "济南城市建设集团有限公司", 2, 0, .1, .2, .6, .8, "planned", 26),
    ("P05", "历下区中医医院新院区", "历下区卫生健康局", 1, 3, .66, .62, .95, .95, "approved", 12),
    ("P06", "龙奥北路公共停车楼", "济南城市投资集团有限公司", 5, 3, .1, .1, .9, .5, "planned", 6),
    ("P07", "汉峪片区安置房", "历下区城市更新局", 4, 2, .05, .05, .95, .95, "completed", 26),
    ("P08", "和平路口袋公园改造", "历下区城市管理局", 1, 4, .1, .1, .5, .5, "completed", 0),
    ("P09", "解放东路社区服务中心", "历下区民政局", 2, 5, .2, .1, .8, .8, "under_construction", 5),
    ("P10", "经十路地下综合管廊控制中心", "济南城市建设集团有限公司", 4, 3, .1, .1, .5, .45, "under_construction", 3),
)

#: (category, Chinese category, land-use code after GB 50137-2011, names)
FACILITY_KINDS = (
    ("school", "学校", "A33", ("舜华路小学", "燕山中学", "汉峪小学", "历下实验中学", "文苑小学", "龙奥幼儿园")),
    ("hospital", "医院", "A51", ("历下区人民医院", "济南市第五人民医院", "汉峪社区卫生服务中心")),
    ("park", "公园", "G1", ("燕子山公园", "汉峪公园", "舜华公园", "和平路口袋公园")),
    ("police", "派出所", "A1", ("姚家派出所", "龙洞派出所", "智远派出所")),
    ("fire_station", "消防站", "U31", ("历下消防救援站", "汉峪特勤消防站")),
    ("library", "图书馆", "A21", ("历下区图书馆",)),
    ("community_centre", "社区服务中心", "R22", ("舜华社区服务中心", "汉峪社区服务中心", "和平社区服务中心", "文苑社区服务中心")),
    ("elderly_care", "养老院", "A6", ("历下区颐养中心", "汉峪老年公寓")),
    ("sports_centre", "体育场馆", "A41", ("历下全民健身中心", "汉峪体育公园场馆")),
    ("bus_station", "公交场站", "S41", ("汉峪公交枢纽", "奥体西路公交场站")),
    ("arts_centre", "文化馆", "A22", ("历下区文化馆",)),
)

#: Sensor kinds: (kind, Chinese kind, metrics, unit per metric)
SENSOR_KINDS = {
    "air": ("空气质量", ("pm25", "pm10", "no2"), {"pm25": "µg/m³", "pm10": "µg/m³", "no2": "µg/m³"}),
    "traffic": ("交通流量", ("traffic_flow",), {"traffic_flow": "veh/h"}),
    "energy": ("建筑能耗", ("power_kw",), {"power_kw": "kW"}),
    "construction": ("工地扬尘噪声", ("dust", "noise_db"), {"dust": "µg/m³", "noise_db": "dB(A)"}),
}


def _block(col: int, row: int) -> layout.Block:
    return next(b for b in layout.blocks() if b.col == col and b.row == row)


def _lot(col, row, fx0, fy0, fx1, fy1) -> Polygon:
    b = _block(col, row)
    w, d = b.x1 - b.x0, b.y1 - b.y0
    return box(b.x0 + fx0 * w, b.y0 + fy0 * d, b.x0 + fx1 * w, b.y0 + fy1 * d)


def _dates(rng, stage: str) -> dict[str, str]:
    """Lifecycle dates in order; only the milestones the stage has reached are set.

    The last reached milestone lies before ``AS_OF``; the earlier ones are counted back
    from it, so a project's dates always agree with its stage. ``expected_completion``
    is the planned finish of a project still being built.
    """
    gaps = [int(rng.integers(90, 300)), int(rng.integers(30, 120)), int(rng.integers(400, 900))]
    reached = STAGES.index(stage)
    days = [0]
    for gap in gaps:
        days.append(days[-1] + gap)
    last = AS_OF - timedelta(days=int(rng.integers(20, 400)))
    keys = ("planned_date", "approved_date", "start_date", "completion_date")
    out: dict[str, str] = {}
    for i, key in enumerate(keys):
        when = last + timedelta(days=days[i] - days[reached])
        # An unreached milestone is "" rather than null: GDAL reads a null in a date
        # column as NaT, which layers' date check (as of this writing) refuses.
        out[key] = when.isoformat() if i <= reached else ""
    expected = ""
    if stage == "under_construction":
        expected = max(last + timedelta(days=gaps[2]), AS_OF + timedelta(days=60)).isoformat()
    out["expected_completion"] = expected
    return out


def make_projects(rng: np.random.Generator) -> list[dict]:
    """The ten construction projects with lots, lifecycle stage and dates."""
    out = []
    for pid, name, dev, col, row, fx0, fy0, fx1, fy1, stage, floors in PROJECTS:
        lot = _lot(col, row, fx0, fy0, fx1, fy1)
        props = {"project_id": pid, "name": name, "developer": dev, "stage": stage,
                 "stage_zh": STAGE_ZH[stage], "floors": floors,
                 "investment_wan": int(rng.integers(30, 400)) * 100,
                 "site_area_m2": round(lot.area, 1)}
        props.update(_dates(rng, stage))
        out.append({"geometry": lot, "properties": props})
    return out


def make_facilities(rng: np.random.Generator) -> list[dict]:
    """About 30 public facilities, each at a block edge so it never sits in a building."""
    spots = [b for b in layout.blocks() if b.use != "cbd"]
    out = []
    for category, zh, code, names in FACILITY_KINDS:
        for name in names:
            b = spots[int(rng.integers(0, len(spots)))]
            x = float(rng.uniform(b.x0 + 6, b.x1 - 6))
            y = b.y0 + 6.0 if rng.random() < 0.5 else b.y1 - 6.0
            fid = f"F{len(out) + 1:03d}"
            out.append({"geometry": Point(round(x, 2), round(y, 2)), "properties": {
                "facility_id": fid, "name": name, "category": category,
                "category_zh": zh, "code": code,
                "address": f"济南市历下区{_nearest_road(x, y)}{int(rng.integers(1, 300))}号",
                "phone": f"0531-8{int(rng.integers(1000000, 9999999))}"}})
    return out


def _nearest_road(x: float, y: float) -> str:
    roads = [(abs(x - c), n) for c, _w, n in layout.NS_ROADS]
    roads += [(abs(y - c), n) for c, _w, n in layout.EW_ROADS]
    return min(roads)[1]


def _sensor(kind: str, n: int, x: float, y: float, name: str, **extra) -> dict:
    zh, metrics, units = SENSOR_KINDS[kind]
    props = {"sensor_id": f"S-{kind}-{n:02d}", "name": name, "kind": kind, "kind_zh": zh,
             "metrics": ",".join(metrics),
             "unit": ",".join(f"{m}:{units[m]}" for m in metrics)}
    props.update(extra)
    return {"geometry": Point(round(x, 2), round(y, 2)), "properties": props}


def make_sensors(rng: np.random.Generator, projects: list[dict],
                 buildings: list[dict]) -> list[dict]:
    """About 20 sensors: air quality, traffic at crossings, building energy, site dust/noise."""
    out = []
    air_blocks = [b for b in layout.blocks() if b.use in ("park", "school", "residential")]
    for n in range(1, 7):
        b = air_blocks[(n * 5) % len(air_blocks)]
        cx, cy = b.centre
        out.append(_sensor("air", n, cx + float(rng.uniform(-20, 20)), b.y0 + 4.0,
                           f"{_nearest_road(cx, b.y0)}空气质量监测站{n}号"))
    crossings = layout.intersections()
    for n in range(1, 6):
        x, y, name = crossings[(n * 7) % len(crossings)]
        out.append(_sensor("traffic", n, x, y, f"{name}车流量检测器"))
    offices = [b for b in buildings if b["properties"]["use"] == "办公"]
    for n in range(1, 6):
        bld = offices[(n * 7) % len(offices)]
        c = bld["geometry"].centroid
        out.append(_sensor("energy", n, c.x, c.y, f"{bld['properties']['name']}能耗监测",
                           building_id=bld["properties"]["id"]))
    sites = [p for p in projects if p["properties"]["stage"] == "under_construction"]
    for n, site in enumerate(sites, start=1):
        c = site["geometry"].centroid
        out.append(_sensor("construction", n, c.x, c.y,
                           f"{site['properties']['name']}扬尘噪声监测",
                           project_id=site["properties"]["project_id"]))
    return out
