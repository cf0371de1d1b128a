"""The one string catalogue: Chinese (简体) first, English second."""

from __future__ import annotations

DEFAULT_LANG = "zh"
LANGS = ("zh", "en")

STRINGS: dict[str, dict[str, str]] = {
    "home.title": {"zh": "城市运行实时总览", "en": "City at a glance, live"},
    "home.subtitle": {"zh": "数据实时来自事件流", "en": "Figures live from the event stream"},
    "kpi.reported_today": {"zh": "今日上报", "en": "Reported today"},
    "kpi.closed_today": {"zh": "今日办结", "en": "Closed today"},
    "kpi.open": {"zh": "在办事件", "en": "Open cases"},
    "kpi.overdue": {"zh": "超期事件", "en": "Overdue"},
    "kpi.closure_rate": {"zh": "办结率", "en": "Closure rate"},
    "kpi.ontime_rate": {"zh": "按期办结率", "en": "On-time rate"},
    "kpi.satisfaction": {"zh": "满意率", "en": "Satisfaction"},
    "kpi.avg_handling_hours": {"zh": "平均办理时长(小时)", "en": "Avg. handling (hours)"},
    "home.as_of": {"zh": "数据时间", "en": "As of"},
    "home.stale": {"zh": "数据连接中断,显示的是最后一次数据", "en": "Connection lost: showing the last figures"},
    "home.no_data": {"zh": "暂无数据", "en": "No data yet"},
}


def t(key: str, lang: str = DEFAULT_LANG) -> str:
    entry = STRINGS[key]
    return entry.get(lang) or entry[DEFAULT_LANG]
