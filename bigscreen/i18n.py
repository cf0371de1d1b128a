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
    "kpi.resolved_locally_share": {"zh": "网格社区化解率", "en": "Settled in grid or community"},
    "kpi.mediation_success": {"zh": "调解成功率", "en": "Mediation success"},
    "home.as_of": {"zh": "数据时间", "en": "As of"},
    "home.stale": {"zh": "数据连接中断,显示的是最后一次数据", "en": "Connection lost: showing the last figures"},
    "home.no_data": {"zh": "暂无数据", "en": "No data yet"},
}


def t(key: str, lang: str = DEFAULT_LANG) -> str:
    entry = STRINGS[key]
    return entry.get(lang) or entry[DEFAULT_LANG]

STRINGS.update({
    "wall.data_age": {"zh": "数据更新", "en": "Data age"},
    "wall.seconds_ago": {"zh": "秒前", "en": "s ago"},
    "wall.stale": {"zh": "数据连接中断 · 显示最后一次数据", "en": "Connection lost · showing the last data"},
    "wall.gauges": {"zh": "考核指标", "en": "Targets"},
    "wall.target": {"zh": "目标", "en": "Target"},
    "wall.categories": {"zh": "今日事件类别", "en": "Today's categories"},
    "wall.trend": {"zh": "24小时趋势", "en": "Last 24 hours"},
    "wall.trend_reported": {"zh": "上报", "en": "Reported"},
    "wall.trend_closed": {"zh": "办结", "en": "Closed"},
    "wall.rank_streets": {"zh": "街道按期办结排名", "en": "Streets by on-time rate"},
    "wall.rank_departments": {"zh": "部门按期办结排名", "en": "Departments by on-time rate"},
    "wall.feed": {"zh": "实时事件", "en": "Live events"},
    "wall.no_data": {"zh": "暂无", "en": "None yet"},
    "status.reported": {"zh": "已上报", "en": "reported"},
    "status.dispatched": {"zh": "已派单", "en": "dispatched"},
    "status.accepted": {"zh": "已签收", "en": "accepted"},
    "status.in_progress": {"zh": "处置中", "en": "in hand"},
    "status.handled": {"zh": "已处置", "en": "handled"},
    "status.verified": {"zh": "已核查", "en": "verified"},
    "status.closed": {"zh": "已办结", "en": "closed"},
    "status.rated": {"zh": "已评价", "en": "rated"},
    "status.returned": {"zh": "已退回", "en": "sent back"},
})


def catalogue(prefix: str, lang: str = DEFAULT_LANG) -> dict[str, str]:
    """Every string under a prefix, in one language, keyed without the prefix (for scripts)."""
    return {k[len(prefix):]: t(k, lang) for k in STRINGS if k.startswith(prefix)}


def pick_lang(value: str | None) -> str:
    return value if value in LANGS else DEFAULT_LANG

STRINGS.update({
    "cloud.events": {"zh": "事件统计云图", "en": "Events"},
    "cloud.people": {"zh": "人房管理云图", "en": "People and housing"},
    "cloud.workforce": {"zh": "运行管理云图", "en": "Grid workforce"},
    "cloud.legend.events": {"zh": "在办事件数", "en": "Open cases"},
    "cloud.legend.people": {"zh": "常住人口", "en": "Residents"},
    "cloud.legend.workforce": {"zh": "专职网格员", "en": "Grid workers"},
    "people.population": {"zh": "常住人口", "en": "Residents"},
    "people.households": {"zh": "户数", "en": "Households"},
    "people.buildings": {"zh": "楼栋", "en": "Buildings"},
    "people.key_places": {"zh": "重点场所", "en": "Key places"},
    "people.cared_for": {"zh": "关爱对象", "en": "People cared for"},
    "workforce.grids": {"zh": "网格数", "en": "Grids"},
    "workforce.workers": {"zh": "专职网格员", "en": "Full-time workers"},
    "workforce.helpers": {"zh": "兼职力量(N)", "en": "Helpers (N)"},
})

STRINGS.update({
    "login.title": {"zh": "登录指挥中心", "en": "Sign in to the command centre"},
    "login.username": {"zh": "用户名", "en": "Username"},
    "login.password": {"zh": "密码", "en": "Password"},
    "login.submit": {"zh": "登录", "en": "Sign in"},
    "login.failed": {"zh": "用户名或密码错误", "en": "Wrong username or password"},
    "login.limited": {"zh": "尝试次数过多，请五分钟后再试", "en": "Too many attempts: try again in five minutes"},
    "login.expired": {"zh": "页面已过期，请重新登录", "en": "The page expired: please sign in again"},
    "login.signed_out": {"zh": "已退出登录", "en": "Signed out"},
    "login.logout": {"zh": "退出", "en": "Sign out"},
})
