"""The coordinate conversions and code nesting of `city import`, without a database."""

from __future__ import annotations

import numpy as np
import pytest

from bigscreen.geo.importing import crs
from bigscreen.geo.importing.hierarchy import FieldMap, code_parents, is_county

# Reference values from an independent implementation of the published formulas (prcoords 1.0.2,
# public domain), near Tian'anmen and in Dongying.
BEIJING_WGS = np.array([[116.397428, 39.90923]])


def test_gcj02_and_bd09_agree_with_an_independent_implementation():
    assert crs.wgs84_to_gcj02(BEIJING_WGS)[0] == pytest.approx([116.40367162595768, 39.91063350638631], abs=1e-9)
    assert crs.wgs84_to_bd09(BEIJING_WGS)[0] == pytest.approx([116.41004410170474, 39.916972856075134], abs=1e-9)
    assert crs.wgs84_to_gcj02(np.array([[118.67, 37.46]]))[0] == pytest.approx([118.67565876090835, 37.460676635287406], abs=1e-9)


def test_the_way_back_from_gcj02_and_bd09_is_exact_to_a_millimetre():
    rng = np.random.default_rng(1)
    xy = np.column_stack([rng.uniform(74, 134, 2000), rng.uniform(18, 53, 2000)])
    for forward, back in ((crs.wgs84_to_gcj02, crs.gcj02_to_wgs84), (crs.wgs84_to_bd09, crs.bd09_to_wgs84)):
        shifted = forward(xy)
        assert np.abs(shifted - xy).max() > 1e-3  # hundreds of metres apart
        assert np.abs(back(shifted) - xy).max() < 1e-8  # a millimetre is 1e-8 degrees


def test_bd09_is_gcj02_shifted_again():
    gcj = crs.wgs84_to_gcj02(BEIJING_WGS)
    assert crs.wgs84_to_bd09(BEIJING_WGS)[0] == pytest.approx(crs.gcj02_to_bd09(gcj)[0])
    assert (crs.wgs84_to_bd09(BEIJING_WGS) - gcj)[0] == pytest.approx([0.0063, 0.0060], abs=5e-4)


def test_names_of_systems():
    assert crs.describe("gcj02") == "GCJ-02" and crs.describe("BD-09") == "BD-09"
    assert crs.describe("cgcs2000") == "EPSG:4490 (China Geodetic Coordinate System 2000)"
    assert crs.describe("EPSG:32650") == "EPSG:32650 (WGS 84 / UTM zone 50N)"
    with pytest.raises(crs.CrsError, match="cannot read the coordinate system 'mars'"):
        crs.converter("mars")


def test_codes_nest_in_both_spellings():
    assert code_parents("370502001001007") == ["370502001001", "370502001", "370502001000", "370502", "370502000000"]
    assert code_parents("370502001000")[:2] == ["370502001", "370502"]
    assert code_parents("WG-7") == []
    assert is_county("370502") and is_county("370502000000") and not is_county("370502001000")


def test_field_mappings(tmp_path):
    assert FieldMap.parse("code=GRID_CODE, name=NAME ,parent=SQ_CODE") == FieldMap("GRID_CODE", "NAME", "SQ_CODE")
    assert FieldMap.parse(None) == FieldMap()
    with pytest.raises(ValueError, match="'colour=X': expected KEY=FIELD"):
        FieldMap.parse("code=A,colour=X")
    path = tmp_path / "fields.yaml"  # --fields-file: the same mapping in a small YAML, Chinese field names kept
    path.write_text("fields:\n  code: 网格编码\n  name: 网格名称\n  parent: SQ_CODE\n", encoding="utf-8")
    assert FieldMap.load(path) == FieldMap("网格编码", "网格名称", "SQ_CODE")
    path.write_text("code: GRID_CODE\n", encoding="utf-8")  # the mapping alone
    assert FieldMap.load(path) == FieldMap("GRID_CODE")
    path.write_text("fields: [code, name]\n", encoding="utf-8")
    with pytest.raises(ValueError, match="fields.yaml: expected a mapping such as fields:"):
        FieldMap.load(path)
    path.write_text("fields: {code: A, colour: X}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="fields.yaml: 'colour=X': expected KEY=FIELD"):
        FieldMap.load(path)
