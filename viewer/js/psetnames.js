// psetnames.js: Chinese display names of the common IFC property sets (Pset_*Common),
// base quantities (Qto_*) and their properties, after the IFC 4 documentation and the
// usual Chinese BIM terms (GB/T 51212 style). The raw IFC name stays on hover.

/** Property set / quantity set -> Chinese name. */
export const PSET_NAMES_ZH = {
  Pset_WallCommon: "墙通用属性", Pset_DoorCommon: "门通用属性", Pset_WindowCommon: "窗通用属性",
  Pset_SlabCommon: "楼板通用属性", Pset_RoofCommon: "屋顶通用属性", Pset_BeamCommon: "梁通用属性",
  Pset_ColumnCommon: "柱通用属性", Pset_StairCommon: "楼梯通用属性", Pset_StairFlightCommon: "梯段通用属性",
  Pset_RailingCommon: "栏杆通用属性", Pset_CoveringCommon: "覆面通用属性", Pset_SpaceCommon: "空间通用属性",
  Pset_BuildingCommon: "建筑通用属性", Pset_BuildingStoreyCommon: "楼层通用属性", Pset_SiteCommon: "场地通用属性",
  Pset_PlateCommon: "板材通用属性", Pset_MemberCommon: "构件通用属性", Pset_FootingCommon: "基础通用属性",
  Pset_CurtainWallCommon: "幕墙通用属性", Pset_BuildingElementProxyCommon: "通用构件属性",
  Pset_OpeningElementCommon: "洞口通用属性", Pset_ProductRequirements: "产品要求",
  Qto_WallBaseQuantities: "墙基本工程量", Qto_DoorBaseQuantities: "门基本工程量",
  Qto_WindowBaseQuantities: "窗基本工程量", Qto_SlabBaseQuantities: "楼板基本工程量",
  Qto_RoofBaseQuantities: "屋顶基本工程量", Qto_BeamBaseQuantities: "梁基本工程量",
  Qto_ColumnBaseQuantities: "柱基本工程量", Qto_StairFlightBaseQuantities: "梯段基本工程量",
  Qto_SpaceBaseQuantities: "空间基本工程量", Qto_CoveringBaseQuantities: "覆面基本工程量",
  Qto_BuildingStoreyBaseQuantities: "楼层基本工程量", Qto_MemberBaseQuantities: "构件基本工程量",
  Qto_PlateBaseQuantities: "板材基本工程量", Qto_RailingBaseQuantities: "栏杆基本工程量",
  Qto_OpeningElementBaseQuantities: "洞口基本工程量", Qto_FootingBaseQuantities: "基础基本工程量",
};

/** Property -> Chinese name (the same name means the same thing across the common sets). */
export const PROPERTY_NAMES_ZH = {
  GlobalId: "全局唯一标识", IfcClass: "IFC 类型", Name: "名称", Storey: "楼层", Building: "建筑",
  Description: "描述", ObjectType: "对象类型", Tag: "标记", PredefinedType: "预定义类型",
  Reference: "参照编号", Status: "状态", IsExternal: "是否外部构件", LoadBearing: "是否承重",
  ExtendToStructure: "是否延伸至结构", FireRating: "耐火等级", AcousticRating: "隔声等级",
  ThermalTransmittance: "传热系数", Combustible: "是否可燃", SurfaceSpreadOfFlame: "表面火焰蔓延等级",
  Compartmentation: "是否防火分隔", SecurityRating: "安防等级", SmokeStop: "是否防烟",
  FireExit: "是否安全出口", HandicapAccessible: "是否无障碍", SelfClosing: "是否自闭",
  GlazingAreaFraction: "玻璃面积比", Infiltration: "空气渗透率", HasDrive: "是否电动",
  IsSmokeVent: "是否排烟窗", PitchAngle: "坡度角", Span: "跨度", Slope: "坡度", Roll: "扭转角",
  NumberOfRiser: "踏步数", NumberOfTreads: "踏面数", RiserHeight: "踏步高度", TreadLength: "踏面长度",
  Height: "高度", Length: "长度", Width: "宽度", Depth: "深度", Thickness: "厚度", Perimeter: "周长",
  Area: "面积", Volume: "体积", Weight: "重量",
  GrossArea: "总面积", NetArea: "净面积", GrossVolume: "总体积", NetVolume: "净体积",
  GrossWeight: "总重量", NetWeight: "净重量", GrossFootprintArea: "总占地面积",
  NetFootprintArea: "净占地面积", GrossSideArea: "总侧面积", NetSideArea: "净侧面积",
  GrossFloorArea: "总建筑面积", NetFloorArea: "净建筑面积", GrossCeilingArea: "总顶棚面积",
  GrossWallArea: "总墙面积", GrossPerimeter: "总周长", NetPerimeter: "净周长",
  CrossSectionArea: "截面面积", OuterSurfaceArea: "外表面积", FinishCeilingHeight: "净高",
  FinishFloorHeight: "地面完成面高度", GrossHeight: "总高度", NetHeight: "净高度",
  ProjectedArea: "投影面积", HorizontalArea: "水平面积", Elevation: "标高",
  YearOfConstruction: "建造年份", NumberOfStoreys: "层数", OccupancyType: "使用类型",
  IsLandmarked: "是否地标", EntranceLevel: "是否入口层", AboveGround: "是否地上",
  Category: "类别", IsLandmark: "是否地标",
};
