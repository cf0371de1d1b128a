"""Steps beside a case's status line: disputes climb the mediation ladder, emergencies are whistled to departments.

Neither moves the case's status, so both are merged into a life planned by `plan_life`:
- a dispute is mediated while it is in hand (after acceptance, before it is handled), rung by rung
  (递进式调解: community mediator → the centre's senior mediator → lawyer → judicial route); its close then
  records a resolution level that fits the rung that settled it;
- an urgent or critical alarming case may be whistled (吹哨) to 2-4 departments shortly after dispatch; each
  reports in (报到) after a delay, mostly within the whistle's window, some late, a few never, so the duty desk
  sees supervision notices too.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace

from bigscreen.simulation.catalogue import SubItem
from bigscreen.simulation.life import Step, pick

RUNGS = ("community", "senior", "lawyer", "judicial")  # the server's ladder, lowest first
# How disputes end, as (rung, outcome): share. Kongtong mediates 98.68% of its disputes, 90% first inside the
# grid; every rung below the last one is a "failed" step, and only a lawyer or a court refers a case to trial.
SETTLEMENTS = {("community", "mediated"): 0.90, ("senior", "mediated"): 0.055, ("lawyer", "mediated"): 0.02,
               ("judicial", "mediated"): 0.012, ("lawyer", "referred"): 0.005, ("judicial", "referred"): 0.008}
# The resolution level recorded at the close, by the rung that settled the dispute.
CLOSE_LEVELS = {"community": {"grid": 0.55, "community": 0.45}, "senior": {"community": 0.5, "street": 0.5},
                "lawyer": {"street": 0.6, "district": 0.4}, "judicial": {"street": 0.3, "district": 0.7}}
# Who mediates on each rung: (role, actor): share. A grid worker mediates in the community only.
MEDIATORS = {"community": {("grid_worker", "网格员"): 0.4, ("centre", "社区人民调解员"): 0.6},
             "senior": {("centre", "金牌调解员"): 1.0},
             "lawyer": {("centre", "驻中心律师"): 1.0},
             "judicial": {("centre", "人民法庭驻中心法官"): 1.0}}
MEDIATION_NOTES = {
    ("community", "mediated"): ("经社区调解员调解，双方达成协议", "网格员会同社区调解员上门调解，双方握手言和",
                                "经社区人民调解委员会调解，双方签订调解协议"),
    ("community", "failed"): ("社区调解未果，双方分歧较大，提交中心金牌调解员", "经社区多次调解，双方仍未达成一致"),
    ("senior", "mediated"): ("经中心金牌调解员调解，双方达成和解", "金牌调解员组织双方面对面协商，签订调解协议"),
    ("senior", "failed"): ("金牌调解员调解未果，引入律师参与调解", "双方对赔偿金额分歧较大，申请律师介入"),
    ("lawyer", "mediated"): ("律师释法说理，双方达成调解协议", "经律师调解员调解，当事人接受调解方案"),
    ("lawyer", "failed"): ("律师调解未成，转入诉前调解程序", "当事人不接受调解方案，引导走司法途径"),
    ("lawyer", "referred"): ("经律师释法，当事人选择诉讼，已引导至人民法院", "调解不成，已告知当事人诉讼途径"),
    ("judicial", "mediated"): ("经法院诉前调解，双方达成协议并申请司法确认", "驻中心法官调解成功，出具司法确认书"),
    ("judicial", "referred"): ("诉前调解未果，已引导当事人依法诉讼", "已移送人民法院立案审理"),
}
REFERRED_HANDLE_NOTES = ("已引导当事人依法诉讼，做好稳控工作", "已移交人民法院，持续跟踪化解")

KIND_OF = {"critical": "emergency", "urgent": "assembly"}  # an alarming case's whistle, by urgency
LIVELIHOOD_PROFILES = ("MS",)  # 民生哨: urgent or critical livelihood cases
WHISTLE_SHARE = {"emergency": 0.4, "assembly": 0.06, "livelihood": 0.06}  # of the cases that qualify
# Report-in windows, as the server's config/city.yaml `whistles` sets them by default.
WINDOW_S = {"emergency": 30 * 60.0, "assembly": 120 * 60.0, "livelihood": 1440 * 60.0}
WHISTLE_AFTER_S = {"emergency": (60.0, 300.0), "assembly": (300.0, 1800.0), "livelihood": (600.0, 3600.0)}
REPORT_IN_FATES = {"on_time": 0.8, "late": 0.14, "never": 0.06}
SUMMONED = (2, 4)
WHISTLE_NOTES = {
    "emergency": ("情况紧急，吹响紧急哨，请相关部门立即赶赴现场", "启动应急联动，请各部门火速到场处置"),
    "assembly": ("涉及多个部门职责，吹响集结哨，请各部门到场会商处置", "需多部门联合处置，吹哨集结"),
    "livelihood": ("群众急难愁盼问题，吹响民生哨，请相关部门限时报到", "涉及民生诉求，吹哨召集部门协同办理"),
}
REPORT_IN_NOTES = {
    "on_time": ("已到场报到，按职责开展处置", "已派员赶赴现场，配合做好处置工作", "已报到，安排专人对接"),
    "late": ("因另有紧急任务，迟到报到，现已到场", "人员调度不及，延迟报到，已安排专人对接"),
}


def merge(steps: Sequence[Step], extra: Sequence[Step]) -> list[Step]:
    """Both in time order (a status step first on a tie), offsets whole seconds and strictly increasing."""
    tagged = sorted([(s.offset_s, 0, i, s) for i, s in enumerate(steps)] +
                    [(s.offset_s, 1, i, s) for i, s in enumerate(extra)])
    out: list[Step] = []
    previous = 2.0  # the automatic dispatch is stamped one second after the report
    for *_, s in tagged:
        offset = max(float(int(s.offset_s)), previous + 1.0)
        out.append(s if offset == s.offset_s else replace(s, offset_s=offset))
        previous = offset
    return out


# -- mediation ----------------------------------------------------------------------------------------------
def ladder(rung: str, outcome: str) -> list[tuple[str, str]]:
    """The steps that settle a dispute on `rung` with `outcome`: a failure on each rung below it, then the outcome."""
    return [(r, "failed") for r in RUNGS[:RUNGS.index(rung)]] + [(rung, outcome)]


def mediation_body(rng: random.Random, rung: str, outcome: str) -> dict:
    """A mediation step; it names its rung, so a repeat is recognised and a dispute moved meanwhile answers 409."""
    role, actor = pick(rng, MEDIATORS[rung])
    return {"outcome": outcome, "rung": rung, "role": role, "actor": actor,
            "note": rng.choice(MEDIATION_NOTES[(rung, outcome)])}


def with_mediation(rng: random.Random, steps: list[Step]) -> list[Step]:
    """A dispute's life: its mediation steps while it is in hand, and a close level fitting how it was settled."""
    handle = next((i for i, s in enumerate(steps) if s.action == "handle"), 0)
    if handle == 0:
        return steps
    rung, outcome = pick(rng, SETTLEMENTS)
    begin, end = steps[handle - 1].offset_s, steps[handle].offset_s
    rungs = ladder(rung, outcome)
    times = sorted(rng.uniform(begin, end) for _ in rungs)
    mediation = [Step(t, "mediate", mediation_body(rng, r, o)) for t, (r, o) in zip(times, rungs)]
    return merge([_settled(rng, s, rung, outcome) for s in steps], mediation)


def _settled(rng: random.Random, step: Step, rung: str, outcome: str) -> Step:
    if step.action == "close":
        return replace(step, body={**step.body, "resolved_level": pick(rng, CLOSE_LEVELS[rung])})
    if step.action == "handle" and outcome == "referred":
        return replace(step, body={**step.body, "note": rng.choice(REFERRED_HANDLE_NOTES)})
    return step


# -- whistles -----------------------------------------------------------------------------------------------
def whistle_kind(rng: random.Random, urgency: str, item: SubItem) -> str | None:
    """The whistle the centre blows for a new case, if any: 紧急哨 for a critical alarming case, 集结哨 for an
    urgent one, 民生哨 for an urgent or critical livelihood case; each for a share of the cases that qualify."""
    if urgency not in KIND_OF:
        return None
    if item.alarming:
        kind = KIND_OF[urgency]
    elif item.profile.key in LIVELIHOOD_PROFILES:
        kind = "livelihood"
    else:
        return None
    return kind if rng.random() < WHISTLE_SHARE[kind] else None


def summon(rng: random.Random, own: str | None, pools: Sequence[Sequence[str]]) -> list[str]:
    """2-4 departments: the case's own, then from each pool in turn (the likeliest first); [] if fewer than 2."""
    wanted = rng.randint(*SUMMONED)
    chosen = [own] if own else []
    for pool in pools:
        rest = [d for d in pool if d not in chosen]
        chosen += rng.sample(rest, max(0, min(len(rest), wanted - len(chosen))))
    return chosen if len(chosen) >= SUMMONED[0] else []


def with_whistle(rng: random.Random, steps: list[Step], kind: str, departments: Sequence[str]) -> list[Step]:
    """A life with a whistle shortly after dispatch (before the close) and the summoned departments' report-ins.

    A late report-in is marked `late`, so that live mode posts it after the real report-by time."""
    close = next((s.offset_s for s in steps if s.action == "close"), None)
    at = rng.uniform(*WHISTLE_AFTER_S[kind])
    if close is not None:
        at = min(at, close * rng.uniform(0.2, 0.5))
    extra = [Step(at, "whistle", {"kind": kind, "departments": list(departments), "role": "centre",
                                  "actor": "指挥中心值班员", "note": rng.choice(WHISTLE_NOTES[kind])})]
    for department in departments:
        fate = pick(rng, REPORT_IN_FATES)
        if fate == "never":
            continue
        share = rng.triangular(0.05, 0.9, 0.2) if fate == "on_time" else rng.uniform(1.1, 2.5)  # of the window
        extra.append(Step(at + share * WINDOW_S[kind], "report_in",
                          {"department": department, "role": "department", "actor": "部门值班员",
                           "note": rng.choice(REPORT_IN_NOTES[fate])}, late=fate == "late"))
    return merge(steps, extra)
