"""Personal data in free text is masked for those who may not see it; what is not personal stays."""

from __future__ import annotations

import pytest

from bigscreen.auth.privacy import excerpt, mask_name, mask_phone, mask_text, shown_text
from bigscreen.auth.roles import Principal, Role

MASKED = [
    ("市民王秀英 13812345678 反映楼道堆放杂物", "市民王** 138****5678 反映楼道堆放杂物"),
    ("市民王某某 13812345678 反映：楼下餐馆油烟扰民", "市民王某某 138****5678 反映：楼下餐馆油烟扰民"),
    ("来电人手机138-1234-5678，要求尽快处理", "来电人手机138****5678，要求尽快处理"),
    ("联系方式：+86 139 0546 1234", "联系方式：139****1234"),
    ("居民张三反映小区路灯不亮", "居民张*反映小区路灯不亮"),
    ("当事人欧阳娜娜称邻居占用楼道", "当事人欧***称邻居占用楼道"),
    ("当事人身份证号370502199001011234，要求调解", "当事人身份证号370502********1234，要求调解"),
    ("身份证37050219851231002x已核实", "身份证370502********002X已核实"),
    ("车牌鲁E·12345的车辆长期占用消防通道", "车牌鲁E·***45的车辆长期占用消防通道"),
    ("鲁E12345占道停车", "鲁E***45占道停车"),
    ("新能源车鲁ED12345在充电桩旁", "新能源车鲁E****45在充电桩旁"),
    ("座机0546-8321234无人接听", "座机0546-****234无人接听"),
    ("请回电(0546)8321234", "请回电0546-****234"),
    ("北京来电010-62345678", "北京来电010-*****678"),
    ("联系电话：8321234", "联系电话：****234"),
    ("邮箱 wang.xiuying@163.com 可发照片", "邮箱 w***@163.com 可发照片"),
    ("工资卡 6222 0212 3456 7894 被冻结", "工资卡 6222********7894 被冻结"),
    ("退款至6228480012345678903", "退款至6228***********8903"),
    ("督办: 市民反映噪音 1381234", "督办: 市民反映噪音 138****"),  # a title cut in the middle of a number
]

UNCHANGED = [
    "案件编号 20261204000123 已转派",
    "工单号 202612040001234567",
    "工单HX13812345678已退回",
    "2026-12-04 08:30 发现，2026年12月4日14:05:33复查",
    "涉及金额约1200元，另有35000 元押金",
    "网格370502001001001内，区划代码370502001001",
    "拨打12345热线，或400-800-1234、110",
    "3号楼2单元501室，共20辆车",
    "卡号6222021234567890不符校验",  # 16 digits, not a card number's checksum
    "居民安全受到威胁，当事人陈述，居民陆续反映，市民游客，居民曾多次反映",
    "群众反映强烈，业主李先生反映，居民于昨日反映，市民高度关注",
    "鲁EABCDE",
]


@pytest.mark.parametrize("typed, shown", MASKED)
def test_personal_data_in_free_text_is_masked(typed, shown):
    assert mask_text(typed) == shown
    assert mask_text(shown) == shown, "masking masked text changes nothing"


@pytest.mark.parametrize("text", UNCHANGED)
def test_what_is_not_personal_stays(text):
    assert mask_text(text) == text


def test_reporters_fields_use_the_same_masks():
    assert mask_phone("13812345678") == "138****5678" == mask_text("13812345678")
    assert mask_phone("0546-8321234") == "0546-****234" == mask_text("0546-8321234")
    assert mask_phone("12345") == "*****" and mask_phone(None) is None and mask_phone(" ") is None
    assert mask_name("王秀英") == "王**" and mask_name("欧阳娜娜") == "欧***" and mask_name("") is None


def test_who_sees_the_text_as_typed():
    typed = "市民王秀英 13812345678 反映"
    for role in (Role.DUTY, Role.ADMIN):
        assert shown_text(typed, Principal("user", "x", role)) == typed
    for who in (Principal("user", "x", Role.LEADER, "370502"), Principal("kiosk", "wall", Role.WALL), None):
        assert shown_text(typed, who) == "市民王** 138****5678 反映"
    assert shown_text(None, None) is None


def test_an_excerpt_never_cuts_a_number_in_two():
    text = "市民王秀英 13812345678 反映楼道堆放杂物"
    assert excerpt(text, 100) == text
    assert excerpt(text, 12) == "市民王秀英…", "the number is left out whole, not cut to 1381234"
    assert excerpt(text, 19) == "市民王秀英 13812345678…"
    assert excerpt("身份证37050219900101123X", 10) == "身份证…"
    assert mask_text(excerpt(text, 19)) == "市民王** 138****5678…"
