"""Reading boundary files through GDAL (pyogrio): GeoJSON, ESRI Shapefile (plain or zipped, its
.dbf in UTF-8 or GBK, its .prj read), GeoPackage (every layer with geometry).

    layers = read_layers([Path("grids.zip")], crs="gcj02", encoding=None)
    layers[0].column("GRID_CODE"), layers[0].geometries     # text decoded, geometries in WGS84

Every refusal is a `BoundaryFileError` naming the file (and the feature and field where there is one).
"""

from __future__ import annotations

import contextlib
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyogrio
import shapely
from pyogrio.raw import read as ogr_read

from bigscreen.geo.importing.crs import CrsError, converter, describe

MAX_BYTES = 1 << 30  # a city's boundaries are tens of megabytes; a bigger file is the wrong file
KINDS = {".shp": "ESRI Shapefile", ".zip": "zipped ESRI Shapefile", ".geojson": "GeoJSON", ".json": "GeoJSON",
         ".gpkg": "GeoPackage"}
CRS_HELP = "name it with --crs gcj02, bd09, wgs84, cgcs2000 or EPSG:<number>"


class BoundaryFileError(ValueError):
    """A file that cannot be imported; the message names the file, and the feature and field if any."""


@dataclass
class Layer:
    source: str                      # the file (and its layer or zip member), as the report names it
    fields: list[str]
    columns: list[np.ndarray]
    geometries: np.ndarray           # shapely geometries in WGS84 lon/lat (None where a feature has none)
    crs: str                         # what the coordinates were, as the report says it
    encoding: str | None = None      # the .dbf's text encoding, for shapefiles
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.geometries)

    def find_field(self, wanted: str) -> int | None:
        """Index of a field by name, ignoring case (shapefiles often upper-case names)."""
        for i, name in enumerate(self.fields):
            if name == wanted:
                return i
        lowered = wanted.lower()
        return next((i for i, name in enumerate(self.fields) if name.lower() == lowered), None)


def read_layers(paths: list[Path], crs: str | None = None, encoding: str | None = None) -> list[Layer]:
    layers: list[Layer] = []
    for path in paths:
        layers.extend(_read_path(Path(path), crs, encoding))
    return layers


def _read_path(path: Path, crs: str | None, encoding: str | None) -> list[Layer]:
    if not path.is_file():
        raise BoundaryFileError(f"{path}: no such file")
    kind = KINDS.get(path.suffix.lower())
    if kind is None:
        raise BoundaryFileError(f"{path}: not a boundary file this import reads (expected {', '.join(sorted(KINDS))})")
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise BoundaryFileError(f"{path}: {size / 2**30:.1f} GiB is more than the {MAX_BYTES // 2**30} GiB a city's "
                                "boundaries take; is it the right file?")
    if path.suffix.lower() == ".zip":
        return [_read_layer(f"/vsizip/{path}/{member}", f"{path}:{member}", kind, crs, encoding, siblings)
                for member, siblings in _zip_shapefiles(path)]
    if path.suffix.lower() == ".gpkg":
        try:
            listed = pyogrio.list_layers(str(path))
        except Exception as exc:  # noqa: BLE001 - GDAL's many errors all mean "not a GeoPackage"
            raise BoundaryFileError(f"{path}: cannot be read as GeoPackage: {_first_line(exc)}") from None
        names = [str(name) for name, geometry_type in listed if geometry_type]
        if not names:
            raise BoundaryFileError(f"{path}: the GeoPackage has no layer with geometry")
        return [_read_layer(str(path), f"{path}:{name}", kind, crs, encoding, {}, layer=name) for name in names]
    siblings = {}
    if path.suffix.lower() == ".shp":
        for ext in (".prj", ".cpg"):
            sibling = next((p for p in (path.with_suffix(ext), path.with_suffix(ext.upper())) if p.is_file()), None)
            if sibling is not None:
                siblings[ext] = sibling.read_bytes()
    return [_read_layer(str(path), str(path), kind, crs, encoding, siblings)]


def _zip_shapefiles(path: Path) -> list[tuple[str, dict[str, bytes]]]:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            shps = sorted(n for n in names if n.lower().endswith(".shp") and not n.startswith("__MACOSX/"))
            if not shps:
                shown = ", ".join(names[:8]) + (" ..." if len(names) > 8 else "")
                raise BoundaryFileError(f"{path}: the zip holds no .shp ({shown or 'nothing'})")
            found = []
            lowered = {n.lower(): n for n in names}
            for shp in shps:
                siblings = {}
                for ext in (".prj", ".cpg"):
                    member = lowered.get(shp[:-4].lower() + ext)
                    if member is not None:
                        siblings[ext] = archive.read(member)
                found.append((shp, siblings))
            return found
    except zipfile.BadZipFile:
        raise BoundaryFileError(f"{path}: not a zip file") from None


def _read_layer(gdal_path: str, source: str, kind: str, crs: str | None, encoding: str | None,
                siblings: dict[str, bytes], layer: str | None = None) -> Layer:
    shapefile = kind.endswith("ESRI Shapefile")
    try:
        with _strict_rings():
            meta, _, wkb, columns = ogr_read(gdal_path, layer=layer, encoding="ISO-8859-1" if shapefile else None)
    except Exception as exc:  # noqa: BLE001 - GDAL's errors: not the format it says, truncated, unreadable
        if ".prj" in siblings and not _readable_crs(siblings[".prj"]):
            raise BoundaryFileError(f"{source}: the coordinate system in its .prj cannot be read; {CRS_HELP}") from None
        raise BoundaryFileError(f"{source}: cannot be read as {kind}: {_first_line(exc)}") from None
    fields = [str(f) for f in meta["fields"]]
    notes: list[str] = []
    used_encoding = None
    if shapefile:
        columns, used_encoding = _decode(source, fields, columns, encoding, siblings.get(".cpg"))
    geometries = _geometries(source, wkb)
    chosen = _choose_crs(source, crs, meta.get("crs"), ".prj" in siblings, notes)
    try:
        convert = converter(chosen)
        described = describe(chosen)
    except CrsError as exc:
        raise BoundaryFileError(f"{source}: {exc}") from None
    present = np.array([g is not None for g in geometries])
    if present.any():
        geometries[present] = convert(geometries[present])
    return Layer(source, fields, list(columns), geometries, described, used_encoding, notes)


def _choose_crs(source: str, given: str | None, in_file: str | None, has_prj: bool, notes: list[str]) -> str:
    """--crs when given (GCJ-02 and BD-09 files usually carry a WGS84 .prj); else the file's own."""
    if given:
        if in_file and given.strip().lower().replace("-", "") not in ("gcj02", "bd09"):
            try:
                same = describe(given) == describe(in_file)
            except CrsError:
                same = False
            if not same:
                notes.append(f"--crs {given} used instead of the file's own {in_file}")
        return given
    if in_file:
        return in_file
    if has_prj:
        raise BoundaryFileError(f"{source}: the coordinate system in its .prj cannot be read; {CRS_HELP}")
    raise BoundaryFileError(f"{source}: no coordinate system (no .prj); {CRS_HELP}")


@contextlib.contextmanager
def _strict_rings():
    """GDAL closes an open ring quietly by default; refused, the feature reads as empty and the
    checks name it."""
    before = pyogrio.get_gdal_config_option(UNCLOSED)
    pyogrio.set_gdal_config_options({UNCLOSED: "NO"})
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options({UNCLOSED: before})


UNCLOSED = "OGR_GEOMETRY_ACCEPT_UNCLOSED_RING"


def _readable_crs(prj: bytes) -> bool:
    try:
        describe(prj.decode("utf-8", "replace"))
        return True
    except CrsError:
        return False


def _geometries(source: str, wkb: np.ndarray) -> np.ndarray:
    try:
        return shapely.from_wkb(wkb)
    except Exception:  # noqa: BLE001 - find the feature to name it
        out = np.empty(len(wkb), dtype=object)
        for i, blob in enumerate(wkb):
            try:
                out[i] = shapely.from_wkb(blob)
            except Exception as exc:  # noqa: BLE001
                raise BoundaryFileError(f"{source}: feature {i + 1}: its geometry cannot be read: {_first_line(exc)}") from None
        return out


def _decode(source: str, fields: list[str], columns: list[np.ndarray], encoding: str | None,
            cpg: bytes | None) -> tuple[list[np.ndarray], str]:
    """A .dbf's text, read as Latin-1 (every byte kept), decoded here: with --encoding, else the
    .cpg's, else UTF-8 if every value is, else GBK (GB18030, its superset)."""
    declared = encoding or (cpg.decode("ascii", "replace").strip() if cpg else None)
    if declared:
        if declared.upper() in ("GBK", "GB2312", "CP936", "936"):
            declared = "gb18030"
        try:
            "".encode(declared)
        except LookupError:
            raise BoundaryFileError(f"{source}: unknown text encoding {declared!r} "
                                    f"({'--encoding' if encoding else 'its .cpg'})") from None
        candidates = [declared]
    else:
        candidates = ["utf-8", "gb18030"]
    text_columns = [i for i, col in enumerate(columns) if col.dtype == object]
    for n, candidate in enumerate(candidates):
        try:
            decoded = list(columns)
            for i in text_columns:
                decoded[i] = np.array([_recode(v, candidate) for v in columns[i]], dtype=object)
            return decoded, "GBK" if candidate == "gb18030" else candidate.upper()
        except UnicodeDecodeError:
            if n + 1 < len(candidates):
                continue
            row, name = _first_undecodable(columns, text_columns, fields, candidate)
            said = f"{declared} (from {'--encoding' if encoding else 'its .cpg'})" if declared else "UTF-8 nor GBK"
            raise BoundaryFileError(f"{source}: feature {row}, field {name}: the text is not "
                                    f"{'valid ' + said if declared else said}; name the encoding with --encoding") from None
    raise AssertionError("unreachable")


def _recode(value, encoding: str):
    return value.encode("latin-1").decode(encoding) if isinstance(value, str) else value


def _first_undecodable(columns, text_columns, fields, encoding) -> tuple[int, str]:
    for row in range(len(columns[0]) if columns else 0):
        for i in text_columns:
            try:
                _recode(columns[i][row], encoding)
            except UnicodeDecodeError:
                return row + 1, fields[i]
    return 0, "?"


def _first_line(exc: BaseException) -> str:
    """GDAL's message, short: its first line; "not recognized as being in a supported file format"
    (with GDAL's own path and a hint about driver prefixes, meaningless here) said plainly."""
    line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if "not recognized as being in a supported file format" in line:
        return "not in that format (nor in any other GDAL reads)"
    return line[:300]
