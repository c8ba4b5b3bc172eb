// i18n.js: UI strings in Chinese (first) and English, and the language switch.
// Elements carry data-i18n="key" (text) or data-i18n-title="key" (tooltip).

const DICTIONARIES = {
  zh: {
    "app.title": "历下区城市信息模型",
    "status.loading": "正在加载…",
    "status.ready": "已加载 {tilesets} 个三维模型，{layers} 个专题图层",
    "status.tilesLoading": "模型加载中…",
    "status.noTilesets": "暂无三维模型",
    "status.streamLost": "实时数据连接中断，正在重连…",
    "metrics.staleMark": "（非实时）",
    "metrics.stale": "无实时数据",
    "metrics.buildingsBy": "建筑着色：",
    "chart.metric": "选择指标",
    "chart.range.1h": "1 小时",
    "chart.range.24h": "24 小时",
    "chart.range.7d": "7 天",
    "ui.home": "回到主视图",
    "ui.switchLanguage": "English",
    "ui.close": "关闭",
    "ui.zoomTo": "缩放至",
    "search.placeholder": "搜索设施、项目、建筑、构件…",
    "search.none": "无结果",
    "bookmark.title": "书签",
    "bookmark.name": "书签名称",
    "bookmark.add": "保存当前视图",
    "bookmark.default": "视图",
    "bookmark.delete": "删除书签",
    "kind.tileset": "三维模型",
    "kind.bim_element": "BIM 构件",
    "panel.layers": "图层",
    "panel.tilesets": "三维模型",
    "panel.gis": "专题图层",
    "panel.none": "无",
    "panel.legend": "项目阶段",
    "project.card": "项目信息",
    "project.filter": "按阶段显示",
    "project.stage": "阶段",
    "project.milestones": "节点",
    "project.planned": "计划",
    "project.actual": "实际",
    "project.planning": "规划",
    "project.approval": "审批",
    "project.start": "开工",
    "project.completion": "竣工",
    "project.permit": "许可证号",
    "project.developer": "建设单位",
    "project.maxHeight": "限高（米）",
    "project.far": "容积率",
    "project.coverage": "建筑密度",
    "project.flyToBim": "飞往 BIM 模型",
    "project.noBim": "无 BIM 模型",
    "project.saving": "正在保存…",
    "project.saved": "已保存，所有用户的视图将更新",
    "project.saveFailed": "保存失败：{detail}",
    "panel.alarms": "告警",
    "alarm.none": "当前无告警",
    "alarm.since": "始于",
    "alarm.count": "24 小时内第 {count} 次",
    "alarm.cleared": "已恢复",
    "alarm.acknowledge": "确认",
    "alarm.acknowledgedBy": "{by} 已确认",
    "alarm.log": "近 24 小时告警日志",
    "alarm.event.raised": "触发",
    "alarm.event.cleared": "恢复",
    "alarm.event.acknowledged": "确认",
    "level.warning": "预警",
    "level.alarm": "报警",
    "panel.asOf": "查看日期（留空为现状）",
    "clip.title": "项目范围裁切实景",
    "bim.title": "BIM 模型",
    "bim.model": "模型",
    "bim.storey": "楼层",
    "bim.allStoreys": "全部楼层",
    "bim.xray": "透视其余构件",
    "bim.classes": "构件类别",
    "inspector.feature": "模型构件",
    "inspector.gis": "专题要素",
    "inspector.sensor": "传感器",
    "inspector.properties": "属性",
    "inspector.identity": "基本信息",
    "inspector.latest": "最新读数",
    "inspector.history": "历史曲线",
    "inspector.noValues": "暂无读数",
    "inspector.alarm": "报警",
    "inspector.tileset": "所属模型",
    "kind.bim": "BIM 模型",
    "kind.reality": "实景三维",
    "kind.buildings": "建筑白模",
    "kind.mesh": "三维模型",
    "kind.terrain": "地形",
    "kind.facilities": "公共设施",
    "kind.projects": "建设项目",
    "kind.sensors": "城市感知",
    "stage.planned": "规划",
    "stage.approved": "审批",
    "stage.under_construction": "在建",
    "stage.completed": "竣工",
    "category.school": "学校",
    "category.kindergarten": "幼儿园",
    "category.university": "高校",
    "category.hospital": "医院",
    "category.clinic": "诊所",
    "category.doctors": "诊所",
    "category.dentist": "牙科",
    "category.pharmacy": "药店",
    "category.library": "图书馆",
    "category.museum": "博物馆",
    "category.theatre": "剧院",
    "category.cinema": "影院",
    "category.park": "公园",
    "category.sports": "体育设施",
    "category.police": "派出所",
    "category.fire_station": "消防站",
    "category.government": "政府机关",
    "category.community_centre": "社区中心",
    "category.social_facility": "社会福利",
    "category.post_office": "邮局",
    "category.bank": "银行",
    "category.place_of_worship": "宗教场所",
    "category.toilet": "公厕",
    "category.parking": "停车场",
    "category.bus_station": "公交站",
    "category.metro": "地铁站",
    "category.emergency_shelter": "应急避难场所",
    "category.community": "社区服务中心",
    "category.elderly_care": "养老院",
    "category.culture": "文化馆",
    "metric.pm25": "PM2.5",
    "metric.pm2_5": "PM2.5",
    "metric.noise": "噪声",
    "metric.temperature": "温度",
    "metric.humidity": "湿度",
    "metric.traffic": "交通流量",
    "metric.traffic_flow": "交通流量",
    "metric.water_level": "水位",
    "metric.power": "用电负荷",
    "metric.aqi": "空气质量指数",
    "metric.pm10": "PM10",
    "metric.no2": "二氧化氮",
    "metric.power_kw": "用电功率",
    "metric.dust": "扬尘",
    "metric.noise_db": "噪声",
    "login.signIn": "登录",
    "login.signOut": "{name}（{role}）· 退出",
    "login.title": "登录",
    "login.user": "用户名",
    "login.password": "密码",
    "login.submit": "登录",
    "login.cancel": "取消",
    "login.failed": "用户名或密码错误，或账号已停用",
    "login.tooMany": "失败次数过多，请一分钟后再试",
  },
  en: {
    "app.title": "Lixia District CIM",
    "status.loading": "Loading…",
    "status.ready": "{tilesets} 3D models, {layers} thematic layers loaded",
    "status.tilesLoading": "Loading models…",
    "status.noTilesets": "No 3D models yet",
    "status.streamLost": "Live data connection lost, reconnecting…",
    "metrics.staleMark": "(not live)",
    "metrics.stale": "no live value",
    "metrics.buildingsBy": "Buildings by",
    "chart.metric": "Pick a metric",
    "chart.range.1h": "1 h",
    "chart.range.24h": "24 h",
    "chart.range.7d": "7 d",
    "metric.noise": "Noise",
    "metric.temperature": "Temperature",
    "metric.humidity": "Humidity",
    "metric.traffic": "Traffic",
    "metric.water_level": "Water level",
    "metric.power": "Power load",
    "metric.aqi": "Air quality index",
    "ui.home": "Home view",
    "ui.switchLanguage": "中文",
    "ui.close": "Close",
    "ui.zoomTo": "Zoom to",
    "search.placeholder": "Search facilities, projects, buildings, elements…",
    "search.none": "No results",
    "bookmark.title": "Bookmarks",
    "bookmark.name": "Bookmark name",
    "bookmark.add": "Save this view",
    "bookmark.default": "View",
    "bookmark.delete": "Delete bookmark",
    "kind.tileset": "3D model",
    "kind.bim_element": "BIM element",
    "panel.layers": "Layers",
    "panel.tilesets": "3D models",
    "panel.gis": "Thematic layers",
    "panel.none": "none",
    "panel.legend": "Project stage",
    "project.card": "Project",
    "project.filter": "Show stages",
    "project.stage": "Stage",
    "project.milestones": "Milestone",
    "project.planned": "Planned",
    "project.actual": "Actual",
    "project.planning": "Planning",
    "project.approval": "Approval",
    "project.start": "Start of works",
    "project.completion": "Completion",
    "project.permit": "Permit number",
    "project.developer": "Developer",
    "project.maxHeight": "Height limit (m)",
    "project.far": "Floor-area ratio",
    "project.coverage": "Site coverage",
    "project.flyToBim": "Fly to BIM model",
    "project.noBim": "No BIM model",
    "project.saving": "Saving…",
    "project.saved": "Saved; every user's view will update",
    "project.saveFailed": "Could not save: {detail}",
    "panel.alarms": "Alarms",
    "alarm.none": "No alarms",
    "alarm.since": "since",
    "alarm.count": "{count}× in 24 h",
    "alarm.cleared": "Cleared",
    "alarm.acknowledge": "Acknowledge",
    "alarm.acknowledgedBy": "acknowledged by {by}",
    "alarm.log": "Alarm log, last 24 h",
    "alarm.event.raised": "raised",
    "alarm.event.cleared": "cleared",
    "alarm.event.acknowledged": "acknowledged",
    "level.warning": "warning",
    "level.alarm": "alarm",
    "panel.asOf": "As of date (empty: today)",
    "clip.title": "Cut the reality mesh by project",
    "bim.title": "BIM model",
    "bim.model": "Model",
    "bim.storey": "Storey",
    "bim.allStoreys": "All storeys",
    "bim.xray": "X-ray the rest",
    "bim.classes": "Element classes",
    "inspector.feature": "Model element",
    "inspector.gis": "Map feature",
    "inspector.sensor": "Sensor",
    "inspector.properties": "Properties",
    "inspector.identity": "Identity",
    "inspector.latest": "Latest readings",
    "inspector.history": "History",
    "inspector.noValues": "No readings yet",
    "inspector.alarm": "Alarm",
    "inspector.tileset": "Model",
    "kind.bim": "BIM model",
    "kind.reality": "Reality mesh",
    "kind.buildings": "Buildings",
    "kind.mesh": "3D model",
    "kind.terrain": "Terrain",
    "kind.facilities": "Public facilities",
    "kind.projects": "Construction projects",
    "kind.sensors": "Sensors",
    "stage.planned": "Planned",
    "stage.approved": "Approved",
    "stage.under_construction": "Under construction",
    "stage.completed": "Completed",
    "metric.pm25": "PM2.5",
    "metric.pm10": "PM10",
    "metric.no2": "NO2",
    "metric.traffic_flow": "Traffic",
    "metric.power_kw": "Power",
    "metric.dust": "Dust",
    "metric.noise_db": "Noise",
    "login.signIn": "Sign in",
    "login.signOut": "{name} ({role}) · Sign out",
    "login.title": "Sign in",
    "login.user": "User name",
    "login.password": "Password",
    "login.submit": "Sign in",
    "login.cancel": "Cancel",
    "login.failed": "Wrong user name or password, or the account is disabled",
    "login.tooMany": "Too many failed attempts; try again in a minute",
  },
};

let language = "zh";
const listeners = [];

/** Translate `key`, filling {name} placeholders from `params`; unknown keys fall back. */
export function t(key, params = {}, fallback = undefined) {
  const text = DICTIONARIES[language][key] ?? DICTIONARIES.zh[key] ?? fallback ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(params[name] ?? ""));
}

/** Translate a category/stage/kind/metric code, or show the code itself when unknown. */
export function label(prefix, code) {
  if (language === "en" && !(`${prefix}.${code}` in DICTIONARIES.en)) {
    return String(code).replace(/_/g, " ");
  }
  return t(`${prefix}.${code}`, {}, String(code));
}

/** The part of a bilingual "中文 English" title for the current language (whole title otherwise). */
export function pickLanguage(title) {
  const text = String(title ?? "");
  const cjk = /[\u3400-\u9fff\uff00-\uffef]/;
  for (let i = text.indexOf(" "); i > 0; i = text.indexOf(" ", i + 1)) {
    const head = text.slice(0, i).trim(), tail = text.slice(i + 1).trim();
    if (cjk.test(head) && /^[A-Za-z]/.test(tail) && /[a-z]/.test(tail) && !cjk.test(tail)) return language === "en" ? tail : head;
  }
  return text;
}

/** The current language code ("zh" or "en"). */
export function getLanguage() {
  return language;
}

/** Switch language, retranslate the page and tell the listeners. */
export function setLanguage(code) {
  language = code in DICTIONARIES ? code : "zh";
  document.documentElement.lang = language === "zh" ? "zh-CN" : "en";
  translatePage(document);
  listeners.forEach((listener) => listener(language));
}

/** Call `listener(language)` after every language switch. */
export function onLanguageChange(listener) {
  listeners.push(listener);
}

/** Fill every data-i18n / data-i18n-title element under `root`. */
export function translatePage(root) {
  root.querySelectorAll("[data-i18n]").forEach((el) => {
    el.textContent = t(el.dataset.i18n, JSON.parse(el.dataset.i18nParams || "{}"));
  });
  root.querySelectorAll("[data-i18n-title]").forEach((el) => {
    el.title = t(el.dataset.i18nTitle);
  });
  root.querySelectorAll("[data-i18n-placeholder]").forEach((el) => {
    el.placeholder = t(el.dataset.i18nPlaceholder);
  });
}

/** Both dictionaries (the browser tests check they have the same keys for the UI). */
export const dictionaries = DICTIONARIES;
