"""The words of the simulated city: category profiles, places, people, and how each channel writes."""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    """How one category of events looks: how often, where, what is said, and how it ends."""

    key: str
    weight: float
    code_prefixes: tuple[str, ...]
    name_keywords: tuple[str, ...]
    places: tuple[str, ...]
    details: tuple[str, ...]
    done: tuple[str, ...]


# Weights are relative frequencies of the categories (市容环卫, 民生, 安全隐患 frequent; fire, flood rare).
PROFILES: tuple[Profile, ...] = (
    Profile("SR", 20, ("SR",), ("市容", "环卫"), ("road", "estate", "building", "shop"),
            ("影响市容环境", "影响居民出行", "群众反映强烈", "已持续数日无人清理", "周边商户意见较大"),
            ("已清理完毕", "已联系环卫清运", "已规劝撤离，现场恢复整洁", "已清除并加强巡查")),
    Profile("MS", 16, ("MS",), ("民生",), ("building", "estate"),
            ("影响居民正常生活", "涉及约{n}户居民", "已持续{h}小时", "老人小孩出行不便", "联系物业未果"),
            ("已协调相关单位处理完毕", "已修复，恢复正常", "已督促物业整改到位", "已答复当事人")),
    Profile("AQ", 14, ("AQ",), ("安全隐患", "安全生产"), ("building", "estate", "site", "road"),
            ("存在较大安全隐患", "易引发安全事故", "周边居民担忧", "需尽快排查处置"),
            ("隐患已排除", "已设置警示并完成整改", "已督促责任单位整改到位")),
    Profile("SS", 10, ("SS", "GG", "SZ"), ("公共设施", "市政", "基础设施"), ("road", "crossing", "estate"),
            ("影响车辆行人通行", "夜间通行存在安全隐患", "已有行人险些摔倒", "影响周边居民使用"),
            ("已修复", "已更换新设施", "已完成维修，恢复使用")),
    Profile("MD", 9, ("MD", "TJ", "JF"), ("矛盾", "纠纷", "调解"), ("building", "estate", "village", "shop"),
            ("双方争执不下", "当事人情绪激动", "涉及{n}人", "已多次协商未果", "需上门调解"),
            ("经调解双方达成一致", "已签订调解协议", "双方矛盾已化解")),
    Profile("HB", 8, ("HB", "HJ"), ("环境保护", "环保", "生态"), ("river", "company", "shop", "village"),
            ("气味刺鼻，周边居民反映强烈", "影响周边环境", "夜间尤为严重", "疑似已持续多日"),
            ("已责令停止排放并整改", "已完成整改，现场复查达标", "已依法查处")),
    Profile("JT", 6, ("JT",), ("交通",), ("crossing", "road", "school"),
            ("影响道路通行", "早晚高峰拥堵严重", "易引发交通事故", "车辆通行缓慢"),
            ("已疏导，道路恢复通行", "已清理，通行恢复正常", "已移交交警处理")),
    Profile("CJ", 5, ("CJ",), ("城乡建设", "违建", "建设"), ("building", "estate", "site", "village"),
            ("未见审批手续", "影响周边居民采光通行", "居民多次反映", "施工仍在继续"),
            ("已下达整改通知书", "违建已拆除", "已责令停工整改")),
    Profile("ZA", 4, ("ZA",), ("治安", "维稳"), ("road", "estate", "shop"),
            ("需公安力量介入", "群众反映强烈", "现场需维持秩序", "已通知辖区派出所"),
            ("已移交派出所处理", "已处置完毕", "人员已妥善安置")),
    Profile("SC", 4, ("SC",), ("市场监管",), ("shop",),
            ("多名消费者投诉", "涉及金额约{m}元", "商家拒不处理", "需执法部门核查"),
            ("已立案调查", "已责令商家退款", "已督促整改")),
    Profile("SB", 4, ("SB",), ("社会保障", "民政", "救助"), ("building", "estate", "village"),
            ("当事人生活困难", "家属请求帮助", "需上门核实情况", "已联系社区工作人员"),
            ("已上门走访并落实帮扶", "已协助办理相关手续", "已纳入帮扶台账")),
    Profile("SP", 3, ("SP",), ("食品", "药品"), ("shop", "school"),
            ("多名群众反映", "存在食品安全风险", "需市场监管部门核查", "涉及学生就餐"),
            ("已下架相关商品", "已责令停业整改", "已抽检送检")),
    Profile("LD", 3, ("LD",), ("劳动", "就业", "工资"), ("company", "site"),
            ("涉及{n}名务工人员", "涉及金额约{m}元", "已多次讨要未果", "当事人情绪较为激动"),
            ("已协调企业支付工资", "已督促企业签订劳动合同", "已依法责令整改")),
    Profile("XF", 2, ("XF",), ("消防", "火"), ("building", "shop", "estate"),
            ("存在火灾隐患", "堵塞消防通道", "需立即整改", "周边住户较多"),
            ("已清理消防通道", "隐患已消除", "火情已扑灭，无人员伤亡")),
    Profile("YJ", 1, ("YJ", "FX", "FH"), ("防汛", "应急", "汛", "洪", "内涝"), ("road", "river", "village", "crossing"),
            ("情况紧急", "影响车辆通行", "需组织力量处置", "周边群众需转移"),
            ("已排水疏通", "险情已排除", "已完成清理")),
)
DEFAULT_PROFILE = Profile("*", 3, (), (), ("estate", "road"),
                          ("群众反映强烈", "需相关部门核实处理", "影响周边居民"),
                          ("已处理完毕", "已答复当事人"))


def profile_for(category_code: str, category_name: str = "") -> Profile:
    """The profile of a category: by code prefix (longest first), then by words of its name, else the default."""
    code = (category_code or "").upper()
    best: tuple[int, Profile] | None = None
    for p in PROFILES:
        for prefix in p.code_prefixes:
            if code.startswith(prefix) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), p)
    if best:
        return best[1]
    for p in PROFILES:
        if any(word in (category_name or "") for word in p.name_keywords):
            return p
    return DEFAULT_PROFILE


# Words in a sub-item's name that say where it happens, first match wins.
PLACE_HINTS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("学校", "校园", "入学"), "school"),
    (("工地", "扬尘", "施工", "围挡"), "site"),
    (("河", "堤", "污水", "水体", "海水"), "river"),
    (("信号灯", "事故"), "crossing"),
    (("耕地", "宅基地", "土地", "秸秆", "畜禽", "农村"), "village"),
    (("工业", "企业", "劳资", "工资", "劳动合同", "社会保险", "童工", "加班", "讨薪"), "company"),
    (("餐饮", "油烟", "店", "烧烤", "商品", "缺斤", "招牌", "后厨", "食品", "药品", "三合一", "价格", "预付卡",
      "成品油", "无证", "消费"), "shop"),
    (("井盖", "路灯", "道路", "护栏", "停车", "占道", "单车", "标线", "渣土", "积水", "结冰", "树木", "塌陷",
      "公交", "非机动车", "小广告", "垃圾桶", "公厕"), "road"),
    (("小区", "物业"), "estate"),
    (("楼道", "电梯", "楼", "墙体", "装修", "充电", "坠物", "供暖", "燃气", "供水", "邻里", "噪声", "停电", "停水",
      "空巢", "独居", "家庭"), "building"),
)

# Sub-items a sensor or a camera would plausibly report.
SENSOR_WORDS = ("井盖", "积水", "内涝", "燃气泄漏", "火情", "配电箱", "水质", "消火栓", "电梯困人", "堤防", "扬尘",
                "废气", "污水", "噪声", "冒烟")
VIDEO_WORDS = ("占道", "店外经营", "违章停车", "暴露垃圾", "满溢", "打架", "聚众", "烧烤", "渣土车", "单车", "事故",
               "可疑", "乱堆", "火情", "焚烧", "积水", "流浪", "乱倒")
# Sub-items that are emergencies by nature: more often urgent or critical.
EMERGENCY_WORDS = ("燃气泄漏", "火情", "火灾", "着火", "倒塌", "电梯困人", "交通事故", "险情", "塌陷", "食物中毒", "打架",
                   "海水倒灌", "肇事")
# Categories the server's config marks `dispute: true` (矛盾调解): they climb the mediation ladder.
DISPUTE_PROFILES = ("MD",)
# What the server's config gives an `alert` colour (the API does not say): emergencies, whole categories of hazards,
# fire and flood, and sub-items named by these words (hazardous waste, group conflicts, unpaid wages, child labour).
ALARM_PROFILES = ("AQ", "XF", "YJ")
ALARM_WORDS = ("危险", "群体", "讨薪", "童工", "重点人员")

ROADS = ("黄河路", "济南路", "西四路", "西三路", "西二路", "东二路", "东三路", "东五路", "府前大街", "北一路", "北二路",
         "南一路", "南二路", "庐山路", "泰山路", "淮河路", "运河路", "沂河路", "胶州路", "黄山路", "嫩江路", "宁阳路",
         "天目山路", "海河路", "辽河路", "德州路", "淄博路", "聊城路", "青岛路", "烟台路", "威海路", "潍坊路", "长江路",
         "珠江路", "汾河路", "滨河路", "东城南路", "西城北路", "学苑路", "育英路")
RIVERS = ("广利河", "东营河", "溢洪河", "广蒲河", "五六干河", "神仙沟", "支脉河", "小清河", "预备河", "西干渠")
ESTATE_HEADS = ("金湖", "胜利", "锦华", "丽景", "河畔", "阳光", "书香", "碧水", "康洋", "府前", "育才", "振兴", "东城",
                "西城", "新城", "馨园", "龙居", "运河", "银座", "海通", "安泰", "华林", "悦湖", "凤凰")
ESTATE_TAILS = ("花园", "家园", "新村", "苑", "名居", "雅居", "华庭", "佳苑", "小区", "公寓")
ESTATE_SPOTS = ("北门", "南门口", "东门", "中心广场", "地下车库", "{n}号楼前", "内部道路", "车棚", "")
FOOD_WORDS = ("餐饮", "油烟", "后厨", "烧烤", "食品", "食物")
FOOD_SHOPS = ("餐馆", "烧烤店", "早餐店", "饭店", "小吃店", "火锅店", "熟食店")
SHOP_TYPES = ("超市", "餐馆", "烧烤店", "水果店", "五金店", "早餐店", "便利店", "药店", "汽修店", "理发店", "洗车行")
COMPANY_HEADS = ("鑫源", "宏达", "华泰", "胜利", "金海", "恒丰", "利华", "正和", "万达", "科力", "永昌", "海科")
COMPANY_TYPES = ("机械有限公司", "化工有限公司", "建筑工程有限公司", "物流有限公司", "纺织厂", "汽修厂", "石油装备有限公司")
SCHOOL_TYPES = ("小学", "中学", "实验学校", "幼儿园")
VILLAGE_SPOTS = ("东头", "西侧", "南街", "北地块", "村委会附近", "村口", "后街")
DIRECTIONS = ("东", "西", "南", "北")

SURNAMES = ("王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何", "高",
            "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾", "田", "董", "袁", "于",
            "蒋", "蔡", "杜", "程", "苏", "魏", "吕", "丁", "任", "崔", "姜", "贾", "范", "薄", "盖", "綦", "巴")
GIVEN_CHARS = ("伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀",
               "霞", "平", "刚", "桂", "英", "华", "玉", "兰", "建", "国", "志", "海", "红", "文", "东", "庆", "凤", "春")
PHONE_PREFIXES = ("130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "155", "156",
                  "157", "158", "159", "176", "177", "178", "180", "181", "182", "183", "185", "186", "187", "188",
                  "189", "198", "199")

CHANNEL_OPENINGS: dict[str, tuple[str, ...]] = {
    "grid_app": ("网格员巡查发现：", "网格员走访发现", "网格员日常巡查上报：", "巡查发现"),
    "hotline_12345": ("市民来电反映：", "12345热线转办：来电人反映", "市民来电称"),
    "citizen_snap": ("群众随手拍：", "市民随手拍反映", "随手拍上报："),
    "wechat_group": ("网格群内居民反映", "居民在网格微信群反映", "微信群反映："),
    "city_platform": ("城市管理平台转办：", "数字城管平台转派：", "市级平台转办："),
    "video": ("视频巡查发现", "雪亮工程AI识别：", "视频监控发现"),
    "sensor": ("物联感知设备告警：", "智能传感器报警：", "感知设备监测到"),
}
# What is said about particular sub-items, in place of the category's usual words.
DETAIL_HINTS: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("火情", "火灾", "着火", "冒烟"), ("现场有浓烟冒出", "有明火，已拨打119", "火势较小，现场人员正在扑救")),
    (("燃气泄漏",), ("现场有明显燃气味", "已疏散周边住户", "已关闭总阀，等待燃气公司处置")),
    (("井盖",), ("夜间通行存在安全隐患", "已设置临时警示", "车辆经过时有异响")),
    (("积水", "内涝"), ("积水深约{n}厘米", "车辆涉水通行困难", "行人无法通过")),
    (("电梯困人",), ("{n}人被困轿厢内", "已联系电梯维保单位")),
    (("事故",), ("有人员受伤", "双方车辆停在路中", "造成交通拥堵")),
    (("倒塌", "塌陷", "开裂"), ("裂缝有扩大趋势", "已拉设警戒线", "周边住户担忧")),
    (("垃圾", "满溢", "公厕"), ("气味难闻，居民反映强烈", "蚊蝇滋生", "已持续数日无人清理")),
)
DEMANDS = ("希望尽快处理", "请相关部门核实处理", "要求尽快解决", "希望给予答复", "请尽快派人查看")
URGENCY_TAILS = {"normal": "", "urgent": "，情况较急，请优先处置", "critical": "，情况紧急，请立即处置"}


def stable_rng(*parts: object) -> random.Random:
    """A generator that is the same for the same place in every run (the same community keeps its estates)."""
    return random.Random(zlib.crc32("|".join(map(str, parts)).encode()))


def place_kind(item_name: str, profile: Profile, rng: random.Random) -> str:
    for words, kind in PLACE_HINTS:
        if any(w in item_name for w in words):
            return kind
    return rng.choice(profile.places)


def _short(community: str) -> str:
    for suffix in ("社区居委会", "居委会", "社区", "村委会", "村"):
        if community.endswith(suffix) and len(community) > len(suffix) + 1:
            return community[: -len(suffix)]
    return community


def place(kind: str, community: str, community_code: str, rng: random.Random, item_name: str = "") -> str:
    """A concrete spot inside the grid's community, e.g. 解放中路社区3号楼, 黄河路与西四路交叉口."""
    local = stable_rng("place", community_code)
    roads = local.sample(ROADS, 4)
    estates = [local.choice(ESTATE_HEADS) + local.choice(ESTATE_TAILS) for _ in range(3)]
    road, estate = rng.choice(roads), rng.choice(estates)
    n = rng.randint(1, 32)
    if kind == "building":
        unit = f"{rng.randint(1, 4)}单元" if rng.random() < 0.4 else ""
        return f"{community}{n}号楼{unit}"
    if kind == "estate":
        return f"{estate}{rng.choice(ESTATE_SPOTS).format(n=n)}"
    if kind == "crossing":
        a, b = rng.sample(roads, 2)
        return f"{a}与{b}交叉口"
    if kind == "road":
        a, b = rng.sample(roads, 2)
        return rng.choice((f"{road}{rng.randint(1, 400)}号附近", f"{road}{_short(community)}段", f"{road}{estate}门口",
                           f"{a}与{b}交叉口", f"{a}与{b}路口{rng.choice(DIRECTIONS)}侧"))
    if kind == "shop":
        shops = FOOD_SHOPS if any(w in item_name for w in FOOD_WORDS) else SHOP_TYPES
        return f"{road}{rng.randint(1, 400)}号{rng.choice(SURNAMES)}记{rng.choice(shops)}"
    if kind == "river":
        return rng.choice((f"{local.choice(RIVERS)}{road}桥段", f"{local.choice(RIVERS)}{_short(community)}段"))
    if kind == "site":
        return f"{road}{rng.choice(ESTATE_HEADS)}{rng.choice(('项目', '二期', '安置房'))}工地"
    if kind == "school":
        return f"{_short(community)}{local.choice(SCHOOL_TYPES)}门口"
    if kind == "village":
        return f"{community}{rng.choice(VILLAGE_SPOTS)}"
    if kind == "company":
        return f"{road}{local.choice(COMPANY_HEADS)}{local.choice(COMPANY_TYPES)}"
    return community


def detail(profile: Profile, rng: random.Random, item_name: str = "") -> str:
    choices = next((d for words, d in DETAIL_HINTS if any(w in item_name for w in words)), profile.details)
    return rng.choice(choices).format(n=rng.randint(2, 60), h=rng.randint(2, 48),
                                              m=rng.choice((800, 1500, 3000, 5600, 12000, 36000)))


def describe(channel: str, urgency: str, spot: str, item_name: str, profile: Profile, rng: random.Random) -> str:
    """One line of a dispatcher's log, e.g. 网格员巡查发现：解放中路社区3号楼楼道堆放杂物，影响居民出行。"""
    opening = rng.choice(CHANNEL_OPENINGS.get(channel, ("",)))
    body = f"{spot}{item_name}"
    if channel == "sensor":
        text = f"{opening}{body}，设备编号{rng.choice('GJSYR')}{rng.choice('SHLD')}-{rng.randint(1000, 99999):05d}"
    elif channel == "video":
        text = f"{opening}{body}，点位编号{rng.randint(100, 9999)}"
    elif channel == "hotline_12345":
        text = f"{opening}{body}，{detail(profile, rng, item_name)}，{rng.choice(DEMANDS)}"
    else:
        text = f"{opening}{body}，{detail(profile, rng, item_name)}"
    return text + URGENCY_TAILS.get(urgency, "") + "。"


def person_name(rng: random.Random, *, polite: bool = False) -> str:
    surname = rng.choice(SURNAMES)
    if polite:
        return surname + rng.choice(("先生", "女士"))
    return surname + "".join(rng.sample(GIVEN_CHARS, rng.choice((1, 2, 2))))


def phone(rng: random.Random) -> str:
    return rng.choice(PHONE_PREFIXES) + f"{rng.randrange(10**8):08d}"
