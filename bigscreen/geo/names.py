"""Place names: Dongying's real streets and communities (china-division, WTFPL) and derived ones."""

from __future__ import annotations

import csv
import random
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DATA = Path(__file__).parent / "data" / "dongying_divisions.csv"
_COMMITTEE_SUFFIX = re.compile(r"(社区|居民|居委会|委员会)+$")
_VILLAGE_SUFFIX = re.compile(r"(村委会|村民委员会)$")


@dataclass(frozen=True)
class Division:
    level: str
    code: str
    name: str
    parent_code: str

    @property
    def suffix(self) -> str:
        return self.code[len(self.parent_code) :] if self.code.startswith(self.parent_code) else ""


@lru_cache(maxsize=1)
def _rows() -> tuple[Division, ...]:
    with DATA.open(encoding="utf-8", newline="") as f:
        return tuple(Division(r["level"], r["code"], r["name"], r["parent_code"]) for r in csv.DictReader(f))


def children(parent_code: str, level: str) -> list[Division]:
    return [d for d in _rows() if d.parent_code == parent_code and d.level == level]


def districts(city_code: str) -> list[Division]:
    """Real districts and counties; development zones without territory of their own are left out."""
    return [d for d in children(city_code, "district") if d.name.endswith(("区", "县")) and "开发区" not in d.name]


def streets(district_code: str) -> list[Division]:
    return [d for d in children(district_code, "street") if "类似" not in d.name]


def communities(street_code: str) -> list[Division]:
    return [Division(d.level, d.code, clean_community(d.name), d.parent_code) for d in children(street_code, "community")]


def clean_community(raw: str) -> str:
    """'中王屋社区居委会' -> '中王屋社区', '北王屋村委会' -> '北王屋村'."""
    name = raw.replace("类似", "")
    if _VILLAGE_SUFFIX.search(name):
        stem = _VILLAGE_SUFFIX.sub("", name)
        return stem if stem.endswith("村") else stem + "村"
    return _COMMITTEE_SUFFIX.sub("", name) + "社区"


def street_rank(name: str) -> int:
    """Urban first: 街道, then zones, then towns, then townships."""
    if name.endswith("街道"):
        return 0
    if name.endswith("镇"):
        return 2
    if name.endswith("乡"):
        return 3
    return 1


def stem(name: str) -> str:
    return re.sub(r"(街道|镇|乡|社区|村)$", "", name) or name


URBAN_STEMS = list("和平幸福康宁阳光锦华丽景金桥富民兴隆振兴安居春晖翠苑华庭新城明珠祥和怡园泰和瑞丰福泽嘉园")
_URBAN_PAIRS = [URBAN_STEMS[i] + URBAN_STEMS[i + 1] for i in range(0, len(URBAN_STEMS) - 1, 2)]
VILLAGE_ENDS = ["家村", "庄村", "家庄村", "集村", "屯村", "官村"]
SURNAMES = list("王张李刘陈杨孙赵徐马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严武戴孔")
# Roughly how common each surname is in Shandong: the first ones dominate.
SURNAME_WEIGHTS = [max(1.0, 12.0 / (1 + i * 0.35)) for i in range(len(SURNAMES))]
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍建红鹏辉斌宇浩凯俊峰晶梅琳雪莉倩宁欣颖晓燕婷丹志国海东波文亮永春")
ORDINALS = "一二三四五六七八九十"


def derived_community(urban: bool, n: int, used: set[str], rng: random.Random) -> str:
    """A plausible name no other area of the city uses yet."""
    for _ in range(200):
        if urban:
            name = rng.choice(_URBAN_PAIRS) + "社区"
        else:
            name = rng.choices(SURNAMES, SURNAME_WEIGHTS)[0] + rng.choice(VILLAGE_ENDS)
        if name not in used:
            used.add(name)
            return name
    name = f"第{n}{'社区' if urban else '村'}"
    while name in used:
        n += 100
        name = f"第{n}{'社区' if urban else '村'}"
    used.add(name)
    return name


def person_name(rng: random.Random) -> str:
    surname = rng.choices(SURNAMES, SURNAME_WEIGHTS)[0]
    given = "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2, 2))))
    return surname + given


def phone(rng: random.Random) -> str:
    prefix = rng.choice(("130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "155", "156", "157", "158", "159", "166", "176", "177", "180", "181", "185", "186", "187", "188", "189", "199"))
    return prefix + f"{rng.randrange(10**8):08d}"


SPECIAL_KINDS = {
    "school": ["实验小学", "第一中学", "第二中学", "实验中学", "中心小学", "职业中专"],
    "hospital": ["人民医院", "中医院", "妇幼保健院", "中心卫生院", "社区卫生服务中心"],
    "park": ["工业园", "化工产业园", "物流园", "高新产业园", "农业科技园"],
}


def special_name(kind: str, street_name: str, used: set[str], rng: random.Random) -> str:
    options = SPECIAL_KINDS[kind][:]
    rng.shuffle(options)
    base = stem(street_name)
    for option in options:
        name = f"{base}{option}专属网格"
        if name not in used:
            used.add(name)
            return name
    n = 2
    while (name := f"{base}第{n}{options[0]}专属网格") in used:
        n += 1
    used.add(name)
    return name


def grid_name(community: str, n: int) -> str:
    return f"{community}第{n}网格"


def committee_name(n: int, rng: random.Random) -> str:
    return f"{rng.choice(_URBAN_PAIRS)}{rng.choice(('小区', '苑', '花园', '家园'))}物业{n}区"


def building_name(n: int, urban: bool) -> str:
    return f"{n}号楼" if urban else f"{n}号院"
