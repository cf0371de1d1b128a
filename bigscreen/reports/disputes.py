"""Disputes (矛盾纠纷) in a report and how they ended (docs/METRICS.md, "Reports"): the disputes reported
in the period as they stood at its end, mediated on which rung of the ladder (递进式调解), referred to
court or not settled yet; the steps taken on each rung; and the disputes settled in the period,
whenever reported. Four small queries over the disputes alone."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, and_, case, distinct, func, select

from bigscreen.db.models import Event, MediationStep
from bigscreen.domain.lifecycle import MEDIATION_OUTCOMES, MEDIATION_RUNGS
from bigscreen.live.kpi import ratio
from bigscreen.reports.figures import count_of
from bigscreen.reports.scope import Scope

SETTLING = ("mediated", "referred")


@dataclass
class Rung:
    rung: str
    reached: int = 0  # disputes of the period with a step on this rung by the end
    mediated: int = 0
    failed: int = 0  # climbed to the next rung
    referred: int = 0


@dataclass
class Disputes:
    reported: int = 0  # disputes reported in the period
    mediated: int = 0  # of those, mediated by the end
    referred: int = 0  # referred to court by the end
    unsettled_closed: int = 0  # neither, and the case closed by the end
    unsettled_open: int = 0  # neither, and the case still open at the end
    rungs: list[Rung] = field(default_factory=list)  # the ladder from its lowest rung
    settled_in_period: int = 0  # settling steps taken in the period, whenever the dispute was reported
    mediated_in_period: int = 0  # of those, mediated

    @property
    def mediation_success(self) -> float | None:
        """The headline's 调解成功率: mediated ÷ settled, over the period's disputes."""
        return ratio(self.mediated, self.mediated + self.referred)


def disputes(conn: Connection, scope: Scope) -> Disputes:
    e, m = Event.__table__.c, MediationStep.__table__.c
    codes = [c.code for c in scope.config.categories if c.dispute]
    out = Disputes(rungs=[Rung(r) for r in MEDIATION_RUNGS])
    if not codes:
        return out
    as_of = scope.as_of
    cohort = and_(scope.cases, e.category_code.in_(codes), e.reported_at >= scope.start, e.reported_at < scope.end)
    settled = (select(m.event_id, func.max(case((m.outcome == "mediated", 1), else_=0)).label("mediated"))
               .where(m.at < as_of, m.outcome.in_(SETTLING)).group_by(m.event_id).subquery())
    closed = and_(e.closed_at.is_not(None), e.closed_at < as_of)
    row = conn.execute(select(func.count(), count_of(settled.c.mediated == 1), count_of(settled.c.mediated == 0),
                              count_of(and_(settled.c.event_id.is_(None), closed)))
                       .select_from(Event.__table__.outerjoin(settled, settled.c.event_id == e.id)).where(cohort)).one()
    out.reported, out.mediated, out.referred, out.unsettled_closed = (int(v) for v in row)
    out.unsettled_open = out.reported - out.mediated - out.referred - out.unsettled_closed
    rungs = {r.rung: r for r in out.rungs}
    steps = (select(m.rung, m.outcome, func.count(distinct(m.event_id)))
             .select_from(MediationStep.__table__.join(Event.__table__, e.id == m.event_id))
             .where(cohort, m.at < as_of).group_by(m.rung, m.outcome))
    reached = (select(m.rung, func.count(distinct(m.event_id)))
               .select_from(MediationStep.__table__.join(Event.__table__, e.id == m.event_id))
               .where(cohort, m.at < as_of).group_by(m.rung))
    for rung, outcome, n in conn.execute(steps):
        if rung in rungs and outcome in MEDIATION_OUTCOMES:
            setattr(rungs[rung], outcome, int(n))
    for rung, n in conn.execute(reached):
        if rung in rungs:
            rungs[rung].reached = int(n)
    flow = conn.execute(select(func.count(), count_of(m.outcome == "mediated"))
                        .select_from(MediationStep.__table__.join(Event.__table__, e.id == m.event_id))
                        .where(scope.cases, m.outcome.in_(SETTLING), m.at >= scope.start, m.at < as_of)).one()
    out.settled_in_period, out.mediated_in_period = int(flow[0]), int(flow[1])
    return out
