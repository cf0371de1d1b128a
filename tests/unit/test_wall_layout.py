"""The wall's structure: every headline figure of the KPI API has its counter, labelled in both languages."""

from __future__ import annotations

from bigscreen.configuration.loading import load_config
from bigscreen.live.kpi import KPI_NAMES
from bigscreen.process.settings import REPO_CONFIG_DIR
from bigscreen.screens.i18n import LANGS, STRINGS
from bigscreen.screens.presentation import RATES, display_format
from layouts import wall


def _walk(component):
    yield component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list) else [children] if children is not None else []:
        if not isinstance(child, str):
            yield from _walk(child)


def _ids(component) -> list:
    return [getattr(c, "id", None) for c in _walk(component)]


def _layout(lang: str = "zh"):
    return wall.build(load_config(REPO_CONFIG_DIR), scope="370500", scope_name="东营市", lang=lang, fit="contain")


def test_every_kpi_has_a_counter_and_every_string_both_languages():
    assert set(wall.COUNTERS + wall.RATES) == set(KPI_NAMES)
    layout = _layout()
    ids = set(_ids(layout))
    assert {f"wall-kpi-{name}" for name in KPI_NAMES} <= ids
    assert all(set(entry) == set(LANGS) for entry in STRINGS.values())


def test_each_counter_once_and_rates_format_as_percent():
    """wall.js formats by data-format; the home page by presentation.display_value: same rule."""
    for lang in LANGS:
        values = [p for p in (c.to_plotly_json()["props"] for c in _walk(_layout(lang))) if "data-kpi" in p]
        assert sorted(p["data-kpi"] for p in values) == sorted(KPI_NAMES), lang  # each figure exactly once
        for p in values:
            name = p["data-kpi"]
            assert p["id"] == f"wall-kpi-{name}" and p["data-value"] == "" and p["children"] == "—"
            assert p["data-format"] == display_format(name), name
    assert {"resolved_locally_share", "mediation_success"} <= RATES
    assert {n for n in KPI_NAMES if display_format(n) == "percent"} == RATES & set(KPI_NAMES)
