"""Personal data kept off screens that may not show it: reporters' names and phones, and the
same kinds of data inside free text (a citizen's description, an alert's title), by one set of
rules. Who sees what: `Permission.VIEW_PERSONAL` (duty officers, admins) sees text as typed;
walls, leaders' tablets and public Open311 reads get `shown_text`.

Each mask keeps enough to tell two cases apart and to say "the caller ending 5678":

| what | typed | shown |
|---|---|---|
| mobile (+86, spaces, hyphens) | 13812345678, 138-1234-5678 | 138****5678 |
| landline with its area code | 0546-8321234, (0546)8321234 | 0546-****234 |
| a number after 电话/手机/联系方式/tel | 联系电话：8321234 | 联系电话：****234 |
| ID card (18, check digit X) | 37050219900101123X | 370502********123X |
| bank card (16–19 digits, Luhn) | 6222 0212 3456 7890 | 6222********7890 |
| email | wangxm@163.com | w***@163.com |
| licence plate (incl. new energy) | 鲁E·12345, 鲁ED12345 | 鲁E·***45, 鲁E****45 |
| a name after 市民/居民/业主/当事人…, from a common surname | 市民王秀英 13…, 居民张三反映 | 市民王** 13…, 居民张*反映 |

Not masked, on purpose: dates and times, amounts, case and work-order numbers, grid and area
codes (12 or 15 digits: a 15-digit first-generation ID card number, withdrawn in 2013, looks
exactly like a grid code, so it is not recognised), service numbers (12345, 400-…), addresses.
The name rule is a heuristic: it needs a cue word and a common surname, so most names in free
text without a cue are not found; phone and ID numbers are what matters most and are found
wherever they stand, also when an alert's title cut a mobile number short at its end.
"""

from __future__ import annotations

import re
from functools import lru_cache

from bigscreen.auth.roles import Permission, Principal

_NOT_BEFORE = r"(?<![0-9A-Za-z])"   # a number stands on its own: not the tail of a code like HX2026…
_NOT_AFTER = r"(?![0-9])"

MOBILE = re.compile(_NOT_BEFORE + r"(?:\+?86[-\s]?)?(1[3-9]\d)[-\s]?(\d{4})[-\s]?(\d{4})" + _NOT_AFTER)
LANDLINE = re.compile(r"(?<![0-9A-Za-z(（])[(（]?(0\d{2,3})[)）]?[-\s]?([1-9]\d{6,7})" + _NOT_AFTER)
ID_CARD = re.compile(_NOT_BEFORE + r"([1-9]\d{5})((?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]))(\d{3}[\dXx])"
                     r"(?![0-9A-Za-z])")
BANK_CARD = re.compile(_NOT_BEFORE + r"[3-6]\d{3}(?:[-\s]?\d{4}){2,3}(?:[-\s]?\d{1,3})?" + _NOT_AFTER)
EMAIL = re.compile(r"(?<![\w.+-])([A-Za-z0-9][A-Za-z0-9._%+-]*)@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})")
PHONE_CUE = re.compile(r"(电话|手机号?|联系方式|联系号码|(?<![A-Za-z])(?:tel|Tel|TEL))([:：\s]*)(\d[\d\s-]{5,14}\d)" + _NOT_AFTER)
PLATE = re.compile(r"([京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼])([A-HJ-NP-Z])([·•・.\s-]?)"
                   r"([A-HJ-NP-Z0-9]{4,5}[A-HJ-NP-Z0-9挂学警港澳])(?![A-Za-z0-9])")
CUT_MOBILE = re.compile(_NOT_BEFORE + r"(1[3-9]\d)\d{4,7}$")  # a mobile number cut short at the end of a text

# About the hundred commonest surnames, less those that open ordinary words right after a cue
# (于 "居民于昨日", 向, 安 "居民安全", 方 "市民方便", 时, 常, 曾 "居民曾多次", 付, 游 "市民游客").
_SURNAMES = ("欧阳|司马|上官|诸葛|东方|皇甫|"
             "[王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许韩冯邓曹彭肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢姜"
             "崔钟谭陆汪范金石廖贾夏韦白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔汤]")
# Words that start like a name after a cue: "当事人陈述", "居民周边", "居民陆续反映", "居民许多".
_NOT_NAMES = ("陈述|周边|周围|周末|陆续|许多|许可|夏季|高度|高空|高兴|马路|马上|车辆|路过|张贴|石头|金额|"
              "白天|江边|龙头|万元|钱款|严重|武装|何时|林地|程序|任何|余额|杜绝|叶子|宋体|韩国|谢谢")
_NAME_CUES = "市民|居民|村民|群众|业主|租户|住户|户主|房东|当事人|来电人|反映人|投诉人|举报人|报警人|求助人|联系人|申请人|姓名"
_NAME_ENDS = r"[\s,，。;；、:：()（）!！?？\d]|反映|来电|投诉|举报|报警|求助|称|表示|说|$"
_GIVEN = r"(?!某|先生|女士|师傅|老师|同志)[\u4e00-\u9fff]{1,2}?"  # 王某某, 李先生: already anonymous
NAME = re.compile(rf"({_NAME_CUES})([:：\s]?)(?!{_NOT_NAMES})((?:{_SURNAMES}){_GIVEN})(?={_NAME_ENDS})")


def mask_name(name: str | None) -> str | None:
    """张三 → 张*: the family name stays, so a leader can still say "Mr Zhang's case"."""
    name = (name or "").strip()
    return name[0] + "*" * max(1, len(name) - 1) if name else None


def mask_phone(phone: str | None) -> str | None:
    """A reporter's phone as the free-text rules show it: 13812345678 → 138****5678 (the carrier
    prefix and the last four, as Chinese services show it), 0546-8321234 → 0546-****234;
    anything else keeps its first three and last four characters (or nothing, if short)."""
    phone = (phone or "").strip()
    if not phone:
        return None
    for rule, mask in ((MOBILE, _mobile), (LANDLINE, _landline)):
        if (m := rule.fullmatch(phone)) is not None:
            return mask(m)
    if len(phone) < 8:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def _mobile(m: re.Match) -> str:
    return f"{m[1]}****{m[3]}"


def _landline(m: re.Match) -> str:
    local = m[2]
    return f"{m[1]}-{'*' * (len(local) - 3)}{local[-3:]}"


def _cued(m: re.Match) -> str:
    digits = re.sub(r"\D", "", m[3])
    return f"{m[1]}{m[2]}{'*' * (len(digits) - 3)}{digits[-3:]}"


def _id_card(m: re.Match) -> str:
    return f"{m[1]}{'*' * 8}{m[3].upper()}"


def _luhn(digits: str) -> bool:
    total = 0
    for i, d in enumerate(reversed(digits)):
        n = int(d) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


def _bank_card(m: re.Match) -> str:
    digits = re.sub(r"\D", "", m[0])
    if not 16 <= len(digits) <= 19 or not _luhn(digits):
        return m[0]
    return f"{digits[:4]}{'*' * (len(digits) - 8)}{digits[-4:]}"


def _email(m: re.Match) -> str:
    return f"{m[1][0]}***@{m[2]}"


def _plate(m: re.Match) -> str:
    tail = m[4]
    if not any(c.isdigit() for c in tail):
        return m[0]  # letters only: a word, not a plate
    return f"{m[1]}{m[2]}{m[3]}{'*' * (len(tail) - 2)}{tail[-2:]}"


def _name(m: re.Match) -> str:
    return f"{m[1]}{m[2]}{mask_name(m[3])}"


def _cut_mobile(m: re.Match) -> str:
    return m[1] + "*" * (len(m[0]) - 3)


# In this order: an email's local part or an ID card may hold what looks like a phone number.
RULES: tuple[tuple[re.Pattern, object], ...] = (
    (EMAIL, _email), (ID_CARD, _id_card), (BANK_CARD, _bank_card), (MOBILE, _mobile), (LANDLINE, _landline),
    (PHONE_CUE, _cued), (PLATE, _plate), (NAME, _name), (CUT_MOBILE, _cut_mobile),
)


@lru_cache(maxsize=4096)
def mask_text(text: str) -> str:
    """Free text with personal data masked (the table above). Masking masked text changes nothing.
    Cached: a wall's frame shows the same few texts many times a second."""
    for rule, mask in RULES:
        text = rule.sub(mask, text)
    return text


_RUN_TAIL = re.compile(r"[0-9A-Za-z@._%+\-·]+$")


def excerpt(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters (an alert's title quoting a description), never in
    the middle of a number or an address: a cut phone or ID number would no longer be recognised
    by `mask_text`, and half of it would reach a wall."""
    if len(text) <= limit:
        return text
    cut = text[:limit - 1]
    if _RUN_TAIL.search(cut) and _RUN_TAIL.match(text[limit - 1:limit]):
        cut = _RUN_TAIL.sub("", cut)
    return cut.rstrip() + "…"


def shown_text(text: str | None, who: Principal | None) -> str | None:
    """`text` as `who` may see it: as typed for those who see personal data, else masked.
    None (nobody in particular: a wall, a public read) gets it masked."""
    if text is None or (who is not None and who.can(Permission.VIEW_PERSONAL)):
        return text
    return mask_text(text)
