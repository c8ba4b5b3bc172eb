"""Controlled vocabularies: project lifecycle stages and facility categories, with
their Chinese labels (the UI's first language) and the synonyms found in real data."""
from __future__ import annotations

#: Lifecycle stages of a construction project, in order, with Chinese labels.
STAGES = {"planned": "规划", "approved": "已批复", "under_construction": "在建",
          "completed": "竣工"}

#: Spellings seen in delivered data -> stage.
STAGE_SYNONYMS = {
    "planned": "planned", "planning": "planned", "plan": "planned", "proposed": "planned",
    "规划": "planned", "拟建": "planned", "规划中": "planned", "计划": "planned",
    "approved": "approved", "permitted": "approved", "已批复": "approved", "审批": "approved",
    "已审批": "approved", "批复": "approved", "已批准": "approved", "审批通过": "approved",
    "under_construction": "under_construction", "under construction": "under_construction",
    "construction": "under_construction", "in_progress": "under_construction",
    "在建": "under_construction", "施工": "under_construction",
    "施工中": "under_construction", "建设中": "under_construction",
    "completed": "completed", "complete": "completed", "finished": "completed",
    "竣工": "completed", "已完成": "completed", "已竣工": "completed", "完工": "completed",
    "已建成": "completed",
}

#: Date fields of a project's lifecycle, in the order the stages happen.
PROJECT_DATES = ("planned_date", "approved_date", "start_date", "completion_date")

#: Public facility categories (English key -> Chinese label).
CATEGORIES = {
    "school": "学校", "kindergarten": "幼儿园", "university": "高等院校",
    "hospital": "医院", "clinic": "诊所", "doctors": "门诊", "dentist": "口腔诊所",
    "pharmacy": "药店", "community_health": "社区卫生服务中心",
    "park": "公园", "square": "广场", "sports_centre": "体育场馆",
    "police": "公安派出所", "fire_station": "消防站", "emergency_shelter": "应急避难场所",
    "library": "图书馆", "museum": "博物馆", "theatre": "剧院", "cinema": "电影院",
    "arts_centre": "文化馆", "community_centre": "社区服务中心",
    "social_facility": "社会福利机构", "elderly_care": "养老机构",
    "townhall": "政府机关", "courthouse": "法院", "public_building": "公共建筑",
    "college": "学院", "post_office": "邮局", "bank": "银行",
    "place_of_worship": "宗教场所", "public_toilet": "公共厕所", "parking": "停车场",
    "bus_station": "公交站", "metro_station": "地铁站", "marketplace": "市场",
    "waste": "环卫设施", "other": "其他",
}

#: Other spellings (OSM tags, Chinese labels) -> category.
CATEGORY_SYNONYMS = {
    **{label: key for key, label in CATEGORIES.items()},
    "police_station": "police", "fire": "fire_station",
    "childcare": "kindergarten", "nursing_home": "elderly_care", "toilets": "public_toilet",
    "sports_center": "sports_centre", "stadium": "sports_centre", "garden": "park",
    "government": "townhall", "market": "marketplace", "community_center": "community_centre",
    "派出所": "police", "公安局": "police", "消防队": "fire_station", "中学": "school",
    "小学": "school", "大学": "university", "卫生院": "community_health",
    "养老院": "elderly_care", "敬老院": "elderly_care", "体育馆": "sports_centre",
    "避难场所": "emergency_shelter", "公厕": "public_toilet",
}


def normalise(value: object, table: dict[str, str]) -> str | None:
    """Look ``value`` up in a synonym table (case, spaces and '-' insensitive)."""
    if value is None:
        return None
    text = str(value).strip()
    key = text.lower().replace("-", "_")
    return table.get(text) or table.get(key) or table.get(key.replace(" ", "_"))
