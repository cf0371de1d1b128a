"""The wall's structure: every headline figure of the KPI API has its counter, labelled in both languages."""

from __future__ import annotations

from bigscreen.configuration import load_config
from bigscreen.i18n import LANGS, STRINGS
from bigscreen.live.kpi import KPI_NAMES
from bigscreen.settings import REPO_CONFIG_DIR
from layouts import wall


def _ids(component) -> list:
    found = [getattr(component, "id", None)]
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list) else [children] if children is not None else []:
        if not isinstance(child, str):
            found += _ids(child)
    return found


def test_every_kpi_has_a_counter_and_every_string_both_languages():
    assert set(wall.COUNTERS + wall.RATES) == set(KPI_NAMES)
    layout = wall.build(load_config(REPO_CONFIG_DIR), scope="370500", scope_name="东营市", lang="zh", fit="contain")
    ids = set(_ids(layout))
    assert {f"wall-kpi-{name}" for name in KPI_NAMES} <= ids
    assert all(set(entry) == set(LANGS) for entry in STRINGS.values())
