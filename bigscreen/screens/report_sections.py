"""The section builders of a report document (report_document.py lists them, in order, in `SECTIONS`):
each takes the report and the `Context` and gives a `Section` of blocks, or None when its part is
absent (no whistle blown in the period, no department ranked ...), every word from the string
catalogue in the reader's language.

Values stay values: counts as `int`, rates as fractions (PERCENT), ids as ID, times as the city's wall
clock (`cx.local`, DATETIME); names and codes from the data as plain text, escaped by the renderers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bigscreen.domain.lifecycle import SUPERVISION_LEVELS
from bigscreen.reports.breakdown import Counted
from bigscreen.reports.document import Chart, Column, Figure, Figures, Kind, Note, Section, Series, Table, Value
from bigscreen.reports.field_work import Work
from bigscreen.reports.laggards import Laggard
from bigscreen.reports.report import HEADLINE, RATES, Ranked, Report
from bigscreen.reports.whistled import CallCounts
from bigscreen.screens.i18n import STRINGS, t

RANK_FIGURES = ("reported", "closed", "closure_rate", "ontime_rate", "satisfaction", "avg_handling_hours")
HOURS = ("avg_handling_hours",)
LISTED = 50  # rows of a long list a page shows (the lowest workers, the whistles): the first, with a note; a workbook all
ROLES = {"full_time": "tablet.worker", "helper": "tablet.helpers"}


@dataclass(frozen=True)
class Context:
    tz: ZoneInfo
    lang: str

    def local(self, instant: datetime | None) -> datetime | None:
        """An instant as the city's wall clock reads it (naive: workbooks hold no zone)."""
        return None if instant is None else instant.astimezone(self.tz).replace(tzinfo=None)

    def t(self, key: str, **values) -> str:
        text = t(key, self.lang)
        return text.format(**values) if values else text

    def label(self, prefix: str, code: str) -> str:
        """A code's label under `prefix` in the catalogue (a channel, a rung ...), the code itself if it has none."""
        key = f"{prefix}.{code}"
        return t(key, self.lang) if key in STRINGS else code

    def column(self, key: str, kind: Kind = Kind.TEXT) -> Column:
        return Column(self.t(key), kind)


def value_kind(name: str) -> Kind:
    return Kind.PERCENT if name in RATES else Kind.FLOAT if name in HOURS else Kind.INT


def change_kind(name: str) -> Kind:
    """Counts change by a fraction of the period before; rates by percentage points; hours by hours."""
    return Kind.POINTS if name in RATES else Kind.SIGNED if name in HOURS else Kind.CHANGE


def figure_name(name: str, lang: str) -> str:
    return t(f"report.fig.{name}", lang)


def _listed(rows: list, cx: Context) -> tuple[int | None, list[Note]]:
    """How many of `rows` a page shows (`Table.shown`: the first LISTED), and a note saying so when there are more."""
    if len(rows) <= LISTED:
        return None, []
    return LISTED, [Note(cx.t("report.note.listed", n=LISTED, total=len(rows)))]


# -- the headline, the days, the rankings ---------------------------------------------------------------------------------


def headline_section(report: Report, cx: Context) -> Section:
    lang = cx.lang
    figures = tuple(Figure(figure_name(n, lang), c.value, value_kind(n), c.change, change_kind(n), c.change_year,
                           c.previous, c.year_before) for n, c in report.headline.items() if n in HEADLINE)
    labels = {k: t(f"report.col.{k}", lang) for k in ("figure", "value", "previous", "change", "year_before", "change_year")}
    return Section("headline", t("report.sheet.headline", lang), [Figures(t("report.sheet.headline", lang), figures, labels)])


def days_section(report: Report, cx: Context) -> Section:
    lang = cx.lang
    reported, closed = t("report.col.reported", lang), t("report.col.closed", lang)
    chart = Chart(t("report.chart.days", lang), [d for d, _r, _c in report.days],
                  (Series(reported, [r for _d, r, _c in report.days]), Series(closed, [c for _d, _r, c in report.days])),
                  style="line" if len(report.days) > 1 else "bar", y_title=t("report.chart.cases", lang))
    table = Table(t("report.sheet.days", lang), (Column(t("report.col.day", lang), Kind.DATE), Column(reported, Kind.INT),
                                                 Column(closed, Kind.INT)),
                  [(d, r, c) for d, r, c in report.days])
    return Section("days", t("report.sheet.days", lang), [chart, table])


def ranking_table(title: str, ranked: list[Ranked], lang: str) -> Table:
    columns = (Column(t("report.col.rank", lang), Kind.INT), Column(t("report.col.code", lang)), Column(t("report.col.name", lang)),
               *(Column(figure_name(n, lang), value_kind(n)) for n in RANK_FIGURES),
               Column(t("report.col.previous_rank", lang), Kind.INT), Column(t("report.col.rank_change", lang), Kind.SIGNED))
    rows = [(r.rank or None, r.code, r.name, *(r.figures[n] for n in RANK_FIGURES), r.previous_rank, r.rank_change)
            for r in ranked]
    return Table(title, columns, rows)


def areas_section(report: Report, cx: Context) -> Section | None:
    if not report.areas:
        return None  # a community: nothing below it but grids
    title = t("report.sheet.areas", cx.lang)
    return Section("areas", title, [ranking_table(title, report.areas, cx.lang)])


def departments_section(report: Report, cx: Context) -> Section:
    title = t("report.sheet.departments", cx.lang)
    return Section("departments", title, [ranking_table(title, report.departments, cx.lang)])


# -- categories and channels ----------------------------------------------------------------------------------------------


def _mix_columns(cx: Context) -> tuple[Column, ...]:
    return (cx.column("report.col.reported", Kind.INT), cx.column("report.col.previous", Kind.INT),
            cx.column("report.col.change", Kind.CHANGE), cx.column("report.col.share", Kind.PERCENT))


def _mix(c: Counted) -> tuple[Value, ...]:
    return (c.reported, c.previous, c.change, c.share)


def categories_section(report: Report, cx: Context) -> Section | None:
    """Each category, then each sub-item with its category, against the period before; a chart of both."""
    if not report.categories:
        return None
    title = cx.t("report.sheet.categories")
    names = [c.name or c.code for c in report.categories]
    chart = Chart(cx.t("report.chart.categories"), names,
                  (Series(cx.t("report.col.value"), [c.reported for c in report.categories]),
                   Series(cx.t("report.col.previous"), [c.previous for c in report.categories])),
                  style="bar", y_title=cx.t("report.chart.cases"))
    categories = Table(title, (cx.column("report.col.code"), cx.column("report.col.category"), *_mix_columns(cx)),
                       [(c.code, c.name or c.code, *_mix(c)) for c in report.categories])
    items = Table(cx.t("report.sheet.items"), (cx.column("report.col.category"), cx.column("report.col.code"),
                                               cx.column("report.col.item"), *_mix_columns(cx)),
                  [(c.name or c.code, i.code, i.name or i.code, *_mix(i)) for c in report.categories for i in c.items])
    return Section("categories", title, [chart, categories, items])


def channels_section(report: Report, cx: Context) -> Section | None:
    if not report.channels:
        return None
    title = cx.t("report.sheet.channels")
    table = Table(title, (cx.column("report.col.code"), cx.column("admin.col.channel"), *_mix_columns(cx)),
                  [(c.code, cx.label("channel", c.code), *_mix(c)) for c in report.channels])
    return Section("channels", title, [table])


# -- hotspots -------------------------------------------------------------------------------------------------------------


def hotspots_section(report: Report, cx: Context) -> Section | None:
    """The grids and communities with the most cases, and repeats of a sub-item at one place."""
    spots = report.hotspots
    if spots is None or not spots.grids:
        return None  # no case reported in the period
    spot_columns = (cx.column("report.col.rank", Kind.INT), cx.column("report.col.code"), cx.column("report.col.name"),
                    cx.column("report.col.parent"), cx.column("report.col.reported", Kind.INT),
                    cx.column("report.col.share", Kind.PERCENT), cx.column("report.col.top_item"),
                    cx.column("report.col.cases", Kind.INT))

    def ranked(key: str, rows) -> Table:
        return Table(cx.t(key), spot_columns, [(n, s.code, s.name, s.parent_name, s.reported, s.share,
                                                s.top_item_name or s.top_item, s.top_item_cases)
                                               for n, s in enumerate(rows, start=1)])

    blocks: list = [ranked("report.sheet.hot_grids", spots.grids)]
    if spots.communities:
        blocks.append(ranked("report.sheet.hot_communities", spots.communities))
    blocks.append(Table(cx.t("report.sheet.repeat_totals"), (cx.column("report.col.repeat_places", Kind.INT),
                                                             cx.column("report.col.repeat_cases", Kind.INT)),
                        [(spots.repeat_places, spots.repeat_cases)]))
    if spots.repeats:
        blocks.append(Table(cx.t("report.sheet.repeats"),
                            (cx.column("report.col.code"), cx.column("assess.col.grid"), cx.column("report.col.parent"),
                             cx.column("report.col.item_code"), cx.column("report.col.item"), cx.column("report.col.cases", Kind.INT)),
                            [(r.grid_code, r.grid_name, r.parent_name, r.item_code, r.item_name or r.item_code, r.cases)
                             for r in spots.repeats]))
    return Section("hotspots", cx.t("report.sheet.hotspots"), blocks)


# -- laggards -------------------------------------------------------------------------------------------------------------


def _target(value: float, name: str) -> str:
    return f"{value * 100:.1f}%" if name in RATES else f"{value:g}"


def _laggard_table(title: str, laggards: list[Laggard], cx: Context) -> Table:
    """One row a laggard; a column for each figure some of them missed (its target in the heading), holding
    the value where it was missed."""
    targets: dict[str, float] = {}
    for g in laggards:
        for m in g.misses:
            targets.setdefault(m.figure, m.target)
    order = [n for n in HEADLINE if n in targets]
    order += sorted(set(targets) - set(order))
    columns = (cx.column("report.col.rank", Kind.INT), cx.column("report.col.code"), cx.column("report.col.name"),
               cx.column("report.col.reported", Kind.INT), cx.column("report.col.missed", Kind.INT),
               *(Column(cx.t("report.col.target", figure=figure_name(n, cx.lang), target=_target(targets[n], n)), value_kind(n))
                 for n in order))
    rows = []
    for g in laggards:
        missed = {m.figure: m.value for m in g.misses}
        rows.append((g.rank, g.code, g.name, g.reported, len(g.misses), *(missed.get(n) for n in order)))
    return Table(title, columns, rows)


def laggards_section(report: Report, cx: Context) -> Section | None:
    """The areas, then the departments, that missed a target; a note when every ranked one met them all."""
    title = cx.t("report.sheet.laggards")
    if not report.laggards:
        ranked = any(r.rank for r in (*report.areas, *report.departments))
        return Section("laggards", title, [Note(cx.t("report.note.no_laggards"))]) if ranked else None
    blocks = []
    for kind, key in (("area", "report.sheet.laggard_areas"), ("department", "report.sheet.laggard_departments")):
        these = [g for g in report.laggards if g.kind == kind]
        if these:
            blocks.append(_laggard_table(cx.t(key), these, cx))
    return Section("laggards", title, blocks)


# -- supervision ----------------------------------------------------------------------------------------------------------


def supervision_section(report: Report, cx: Context) -> Section | None:
    """Cases that went late, 督办 by level (第一/二/三次督办), by department, and the cases at the highest
    level (no citizen text)."""
    sup = report.supervision
    if sup is None or not (sup.went_late or sup.supervised or any(sup.notices.values()) or any(sup.call_notices.values())):
        return None
    title = cx.t("report.sheet.supervision")
    levels = range(1, SUPERVISION_LEVELS + 1)
    blocks: list = [
        Table(title, tuple(cx.column(f"report.col.{k}", Kind.INT)
                           for k in ("went_late", "late_still_open", "supervised", "supervised_closed")),
              [(sup.went_late, sup.late_still_open, sup.supervised, sup.supervised_closed)]),
        Table(cx.t("report.sheet.supervision_levels"),
              (cx.column("report.col.level"), cx.column("report.col.notices", Kind.INT),
               cx.column("report.col.call_notices", Kind.INT), cx.column("report.col.by_level", Kind.INT)),
              [(cx.t(f"duty.level.{n}"), sup.notices.get(n, 0), sup.call_notices.get(n, 0), sup.by_level.get(n, 0))
               for n in levels]),
    ]
    if sup.departments:
        blocks.append(Table(cx.t("report.sheet.supervised_departments"),
                            (cx.column("report.col.code"), cx.column("report.col.name"),
                             cx.column("report.col.supervised", Kind.INT), cx.column("report.col.third", Kind.INT),
                             cx.column("report.col.supervised_closed", Kind.INT)),
                            [(d.code, d.name, d.cases, d.third, d.closed) for d in sup.departments]))
    if sup.cases:
        blocks.append(Table(cx.t("report.sheet.supervised_cases"),
                            (cx.column("duty.whistle.case", Kind.ID), cx.column("assess.col.grid"),
                             cx.column("duty.department"), cx.column("report.col.item"),
                             cx.column("report.col.reported_at", Kind.DATETIME), cx.column("tablet.case.deadline", Kind.DATETIME),
                             cx.column("report.col.closed_at", Kind.DATETIME), cx.column("report.col.level")),
                            [(c.event_id, c.grid_name, c.department_name, c.item_name or c.item_code, cx.local(c.reported_at),
                              cx.local(c.deadline), cx.local(c.closed_at), cx.t(f"duty.level.{c.level}")) for c in sup.cases]))
    return Section("supervision", title, blocks)


# -- whistles -------------------------------------------------------------------------------------------------------------


def _call_columns(cx: Context) -> tuple[Column, ...]:
    return (cx.column("report.col.calls", Kind.INT), cx.column("report.col.on_time", Kind.INT),
            cx.column("report.col.late", Kind.INT), cx.column("report.col.missing", Kind.INT))


def _calls(c: CallCounts) -> tuple[Value, ...]:
    return (c.calls, c.on_time, c.late, c.missing)


def whistles_section(report: Report, cx: Context) -> Section | None:
    """吹哨报到: whistles by kind, the calls on time, late and missing, by department, and each whistle."""
    wh = report.whistles
    if wh is None or not wh.whistles:
        return None
    title = cx.t("report.sheet.whistles")
    rates = (cx.column("report.col.on_time_rate", Kind.PERCENT), cx.column("report.col.report_in_minutes", Kind.FLOAT))
    shown, note = _listed(wh.lines, cx)
    blocks: list = [
        Table(title, (cx.column("report.col.whistles", Kind.INT), *_call_columns(cx), *rates),
              [(wh.whistles, *_calls(wh.calls), wh.calls.on_time_rate, wh.calls.avg_report_in_minutes)]),
        Table(cx.t("report.sheet.whistle_kinds"), (cx.column("duty.whistle.kind"), cx.column("report.col.whistles", Kind.INT)),
              [(cx.label("duty.kind", kind), n) for kind, n in wh.by_kind.items()]),
        Table(cx.t("report.sheet.whistle_departments"),
              (cx.column("report.col.code"), cx.column("report.col.name"), *_call_columns(cx), *rates),
              [(d.code, d.name, *_calls(d), d.on_time_rate, d.avg_report_in_minutes) for d in wh.departments]),
        Table(cx.t("report.sheet.whistle_lines"),
              (cx.column("duty.whistle.case", Kind.ID), cx.column("duty.whistle.kind"),
               cx.column("report.col.whistled_at", Kind.DATETIME), cx.column("report.col.report_by", Kind.DATETIME),
               *_call_columns(cx)),
              [(w.event_id, cx.label("duty.kind", w.kind), cx.local(w.at), cx.local(w.report_by), *_calls(w.calls))
               for w in wh.lines], shown=shown),
        *note,
    ]
    return Section("whistles", title, blocks)


# -- disputes -------------------------------------------------------------------------------------------------------------


def disputes_section(report: Report, cx: Context) -> Section | None:
    """矛盾纠纷调解: the period's disputes as they stood at the end, the flow settled in it, and the ladder."""
    d = report.disputes
    if d is None or not (d.reported or d.settled_in_period):
        return None
    title = cx.t("report.sheet.disputes")
    totals = Table(title, (*(cx.column(f"report.col.{k}", Kind.INT)
                             for k in ("disputes", "mediated", "referred", "unsettled_closed", "unsettled_open")),
                           Column(figure_name("mediation_success", cx.lang), Kind.PERCENT),
                           cx.column("report.col.settled_in_period", Kind.INT), cx.column("report.col.mediated_in_period", Kind.INT)),
                   [(d.reported, d.mediated, d.referred, d.unsettled_closed, d.unsettled_open, d.mediation_success,
                     d.settled_in_period, d.mediated_in_period)])
    rungs = Table(cx.t("report.sheet.rungs"), (cx.column("report.col.rung"), *(cx.column(f"report.col.{k}", Kind.INT)
                                                                                for k in ("reached", "mediated", "failed", "referred"))),
                  [(cx.label("rung", r.rung), r.reached, r.mediated, r.failed, r.referred) for r in d.rungs])
    return Section("disputes", title, [totals, rungs])


# -- field work -----------------------------------------------------------------------------------------------------------


def _work_columns(cx: Context) -> tuple[Column, ...]:
    return (cx.column("report.col.duty_days", Kind.INT), cx.column("assess.raw.patrols", Kind.INT),
            cx.column("report.col.patrol_rate", Kind.PERCENT), cx.column("assess.raw.visits", Kind.INT),
            cx.column("report.col.visit_rate", Kind.PERCENT), cx.column("report.col.days_met", Kind.INT),
            cx.column("report.col.met_rate", Kind.PERCENT))


def _work(w: Work) -> tuple[Value, ...]:
    return (w.duty_days, w.patrols, w.patrol_rate, w.visits, w.visit_rate, w.days_met, w.met_rate)


def field_work_section(report: Report, cx: Context) -> Section | None:
    """一日两巡五访: the totals against the norm, the areas one level down, the workers (lowest first)."""
    fw = report.field_work
    if fw is None or not (fw.workers or fw.total.duty_days or fw.total.patrols or fw.total.visits):
        return None
    title = cx.t("report.sheet.field_work")
    total = fw.total
    blocks: list = [
        Note(cx.t("report.note.norm", patrols=total.patrols_per_day, visits=total.visits_per_day)),
        Table(title, (cx.column("report.col.days", Kind.INT), cx.column("report.col.duty_days", Kind.INT),
                      cx.column("assess.raw.patrols", Kind.INT), cx.column("assess.raw.patrols_due", Kind.INT),
                      cx.column("report.col.patrol_rate", Kind.PERCENT), cx.column("assess.raw.visits", Kind.INT),
                      cx.column("assess.raw.visits_due", Kind.INT), cx.column("report.col.visit_rate", Kind.PERCENT),
                      cx.column("report.col.days_met", Kind.INT), cx.column("report.col.met_rate", Kind.PERCENT),
                      cx.column("report.col.never_on_duty", Kind.INT)),
              [(fw.days, total.duty_days, total.patrols, total.expected_patrols, total.patrol_rate, total.visits,
                total.expected_visits, total.visit_rate, total.days_met, total.met_rate, fw.never_on_duty)]),
    ]
    if fw.areas:
        blocks.append(Table(cx.t("report.sheet.field_work_areas"),
                            (cx.column("report.col.code"), cx.column("report.col.name"),
                             cx.column("workforce.workers", Kind.INT), *_work_columns(cx)),
                            [(a.code, a.name, a.workers, *_work(a)) for a in fw.areas]))
    if fw.workers:
        shown, note = _listed(fw.workers, cx)
        blocks.append(Table(cx.t("report.sheet.field_work_workers"),
                            (cx.column("assess.col.worker_id", Kind.ID), cx.column("assess.col.worker"),
                             cx.column("report.col.role"), cx.column("assess.col.grid"), *_work_columns(cx)),
                            [(w.worker_id, w.name, cx.t(ROLES[w.role]) if w.role in ROLES else w.role, w.grid_name, *_work(w))
                             for w in fw.workers], shown=shown))
        blocks += note
    return Section("field_work", title, blocks)
