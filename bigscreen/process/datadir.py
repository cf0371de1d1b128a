"""Bringing a data dir to life: schema, configuration tables, Redis, the city."""

from __future__ import annotations

import os

import redis
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from bigscreen.db import models
from bigscreen.db.migrate import upgrade
from bigscreen.live.server import EmbeddedRedis
from bigscreen.process.runtime import Runtime
from bigscreen.process.settings import Settings


def prepare_database(rt: Runtime) -> None:
    """Migrates to the newest schema and mirrors config/ into the category and department tables."""
    rt.settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(rt.engine)
    cfg = rt.config
    rows = {
        models.Category: [{"code": c.code, "name": c.name, "name_en": c.name_en} for c in cfg.categories],
        models.SubItem: [{"code": i.code, "category_code": c.code, "name": i.name, "name_en": i.name_en} for c in cfg.categories for i in c.items],
        models.Department: [{"code": d.code, "name": d.name, "name_en": d.name_en, "level": d.level, "district": d.district} for d in cfg.departments],
    }
    insert = postgresql.insert if rt.engine.dialect.name == "postgresql" else sqlite.insert
    with rt.sessions() as session, session.begin():
        for model, values in rows.items():
            if not values:
                continue
            stmt = insert(model).values(values)
            pk = model.__table__.primary_key.columns.keys()
            updates = {c: stmt.excluded[c] for c in values[0] if c not in pk}
            session.execute(stmt.on_conflict_do_update(index_elements=pk, set_=updates))


def city_exists(rt: Runtime) -> bool:
    with rt.sessions() as session:
        return bool(session.scalar(select(func.count()).select_from(models.Area)))


def build_city(rt: Runtime, *, synthetic: bool = False, progress: bool = True) -> int:
    """Builds the demo city and stores it as an imported map is stored (`import_city`: refused over cases)."""
    from bigscreen.geo.citybuild import build_city as plan_city

    return import_city(rt, plan_city(rt.config.city, progress=progress, synthetic=synthetic), progress=progress)


def cases_stored(rt: Runtime) -> int:
    """The cases in the database (0 where it has no schema yet)."""
    try:
        with rt.sessions() as session:
            return session.scalar(select(func.count()).select_from(models.Event)) or 0
    except SQLAlchemyError:
        return 0


class CityInUse(RuntimeError):
    """The map cannot be replaced: cases are filed on its grids."""


def import_city(rt: Runtime, plan, *, progress: bool = False) -> int:
    """Stores a map (an imported one, `bigscreen.geo.importing`, or the demo's, `build_city`) in one
    transaction: its areas, people figures and workers replace the ones there. Refused, with nothing
    written, while cases point at the old grids: over cases a map is re-imported
    (bigscreen.imports.remap.remap_city)."""
    from bigscreen.geo.citybuild import store_city

    with rt.sessions() as session, session.begin():
        cases = session.scalar(select(func.count()).select_from(models.Event))
        if cases:
            raise CityInUse(f"the database holds {cases} case{'s' if cases != 1 else ''} on the map there now; replacing the map "
                            "would lose them: bring a new map in over them with `bigscreen city import`, which keeps them")
        # new ids follow the old ones: a process still holding the old map can never file a case
        # in a grid that now means another place
        first_id = (session.scalar(select(func.max(models.Area.id))) or 0) + 1
        session.execute(models.FieldActivity.__table__.delete())
        session.execute(models.GridWorker.__table__.delete())
        session.execute(models.GridProfile.__table__.delete())
        session.execute(models.Area.__table__.delete())
        store_city(session, plan, first_id=first_id, progress=progress)
    rt.__dict__.pop("areas", None)
    return len(plan.areas)


def ensure_redis(settings: Settings) -> tuple[Settings, EmbeddedRedis | None]:
    """Uses BIGSCREEN_REDIS_URL or the sentinels' master; else the data dir's embedded server if one
    runs; else starts it and keeps it alive (restarted if it dies) until `release_redis`. The URL is
    exported so worker processes share the one server."""
    if settings.redis_configured:
        return settings, None
    embedded = EmbeddedRedis(settings.data_dir / "redis")
    if embedded.socket.exists() and embedded._responds():
        owned = None
    else:
        owned = embedded.start().keep_alive()
    os.environ["BIGSCREEN_REDIS_URL"] = embedded.url
    return settings.model_copy(update={"redis_url": embedded.url}), owned


def release_redis(owned: EmbeddedRedis | None, settings: Settings) -> None:
    """Stops the embedded server this process started (nothing if it started none). Call it once
    nothing in this process writes to Redis any more: the figures are then marked as cleanly
    stopped, so the next start may trust what the server's AOF gives back."""
    from bigscreen.live.keys import Keys
    from bigscreen.live.trust import mark_clean_stop

    if owned is None:
        return
    client = redis.Redis.from_url(owned.url, socket_timeout=5)
    try:
        mark_clean_stop(client, Keys(settings.key_prefix))
    finally:
        client.close()
        owned.stop()
