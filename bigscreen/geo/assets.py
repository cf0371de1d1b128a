"""Static map geometry: one content-hashed GeoJSON file per level below the city, and a manifest.

    manifest = ensure_level_assets(runtime)        # at start-up, rebuilds only when the areas changed
    manifest["levels"]["community"]["file"]        # e.g. "community-3f2a9c1d.json", served at /geo/<file>

Live values never go into these files: the browser colours them from a small dict (hideout).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import shapely
from shapely.geometry import mapping, shape
from sqlalchemy import select
from sqlalchemy.orm import Session, aliased
from tqdm import tqdm

from bigscreen.db.models import Area
from bigscreen.geo.totals import area_totals

FORMAT = 2  # bump when the file layout changes, so existing data dirs rebuild
MANIFEST = "manifest.json"
DECIMALS = 5
TOLERANCE = {  # degrees; 1e-4° is about 10 m
    "district": 0.0005, "street": 0.0002, "community": 0.0001,
    "grid": 0.00005, "committee": 0.00003, "building": 0.00002,
}


@dataclass(frozen=True)
class AssetInfo:
    file: str
    hash: str
    bytes: int
    gzip_bytes: int
    features: int
    bbox: tuple[float, float, float, float] | None


def geo_dir(settings: Any) -> Path:
    return Path(settings.data_dir) / "geo"


def areas_fingerprint(session: Session, levels: list[str]) -> str:
    """Changes with any area's code, name, parent, position, extent or retirement (a rebuilt or edited city)."""
    digest = hashlib.sha256(json.dumps([FORMAT, levels, TOLERANCE], sort_keys=True).encode())
    rows = session.execute(select(
        Area.id, Area.code, Area.name, Area.parent_id, Area.level_name, Area.lat, Area.lon,
        Area.min_lon, Area.min_lat, Area.max_lon, Area.max_lat, Area.retired_at.is_(None),
    ).order_by(Area.id))
    for row in rows:
        digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()[:16]


def build_level_assets(session: Session, levels: list[str], out_dir: Path, progress: bool = False) -> dict[str, AssetInfo]:
    """Writes {level}-{hash8}.json (and .json.gz) per level below the city, then manifest.json."""
    out_dir.mkdir(parents=True, exist_ok=True)
    totals = area_totals(session)
    infos = {}
    with tqdm([level for level in levels if level != "city"], unit="level", desc="building the map files",
              disable=not progress, leave=False) as bar:
        for level in bar:
            bar.set_postfix_str(level)
            infos[level] = _write_level(session, level, out_dir, totals)
    manifest = {
        "format": FORMAT,
        "fingerprint": areas_fingerprint(session, levels),
        "levels": {level: asdict(info) for level, info in infos.items()},
    }
    _write_atomic(out_dir / MANIFEST, orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    keep = {MANIFEST} | {n for i in infos.values() for n in (i.file, i.file + ".gz")}
    for stale in out_dir.glob("*.json*"):
        if stale.name not in keep and not stale.name.startswith("."):
            stale.unlink(missing_ok=True)
    return infos


def load_manifest(out_dir: Path) -> dict | None:
    path = out_dir / MANIFEST
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    key = (str(path), stat.st_ino, stat.st_mtime_ns, stat.st_size)
    cached = _cache.get("entry")
    if cached is None or cached[0] != key:
        try:
            cached = (key, orjson.loads(path.read_bytes()))
        except (OSError, orjson.JSONDecodeError):
            return None
        _cache["entry"] = cached  # one assignment: request threads never see a key with another's manifest
    return cached[1]


_cache: dict[str, tuple[tuple, dict]] = {}


def ensure_level_assets(runtime: Any, progress: bool = False) -> dict:
    """Returns the manifest, building the files first when missing or older than the areas table."""
    out_dir = geo_dir(runtime.settings)
    levels = list(runtime.config.city.levels)
    with runtime.sessions() as session:
        fingerprint = areas_fingerprint(session, levels)
        if _is_current(out_dir, fingerprint):
            return load_manifest(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        with _lock(out_dir / ".lock"):
            if not _is_current(out_dir, fingerprint):  # another worker may have built it meanwhile
                build_level_assets(session, levels, out_dir, progress)
    return load_manifest(out_dir)


def _is_current(out_dir: Path, fingerprint: str) -> bool:
    manifest = load_manifest(out_dir)
    return (
        manifest is not None and manifest.get("fingerprint") == fingerprint
        and all((out_dir / info["file"]).is_file() and (out_dir / (info["file"] + ".gz")).is_file()
                for info in manifest.get("levels", {}).values())
    )


def _write_level(session: Session, level: str, out_dir: Path, totals: dict[str, dict[str, int]]) -> AssetInfo:
    parent = aliased(Area)
    rows = session.execute(
        select(Area.code, Area.name, parent.code, Area.geometry)
        .join(parent, Area.parent_id == parent.id, isouter=True)
        .where(Area.level_name == level, Area.retired_at.is_(None)).order_by(Area.code)
    ).all()
    geoms = _simplify([shape(r[3]) for r in rows], TOLERANCE.get(level, 0.00002))
    features = [
        {"type": "Feature", "geometry": mapping(g),
         # people and workforce travel with the static geometry: the cloud maps colour by them
         "properties": {"code": r[0], "name": r[1], "parent": r[2], **_static_figures(totals.get(r[0]))}}
        for r, g in zip(rows, geoms, strict=True)
    ]
    blob = orjson.dumps({"type": "FeatureCollection", "features": features})
    digest = hashlib.sha256(blob).hexdigest()[:8]
    name = f"{level}-{digest}.json"
    packed = gzip.compress(blob, compresslevel=9, mtime=0)
    for path, data in ((out_dir / name, blob), (out_dir / (name + ".gz"), packed)):
        if not (path.is_file() and path.stat().st_size == len(data)):
            _write_atomic(path, data)
    bbox = tuple(round(float(v), DECIMALS) for v in shapely.total_bounds(geoms)) if len(geoms) else None
    return AssetInfo(name, digest, len(blob), len(packed), len(features), bbox)


def _static_figures(row: dict[str, int] | None) -> dict[str, int]:
    return {k: row[k] for k in ("population", "households", "workers", "helpers")} if row else {}


def _simplify(geoms: list, tolerance: float) -> np.ndarray:
    """Whole-coverage simplification keeps neighbours' shared edges identical (no slivers, no
    double lines); a set that is not a clean coverage falls back to simplifying each alone."""
    arr = np.asarray(geoms, dtype=object)
    if not len(arr):
        return arr
    if hasattr(shapely, "coverage_simplify") and shapely.coverage_is_valid(arr):
        out = shapely.coverage_simplify(arr, tolerance)
    else:
        out = shapely.simplify(arr, tolerance, preserve_topology=True)
    return shapely.transform(out, lambda xy: np.round(xy, DECIMALS))


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    """Several web workers start at once; only one needs to build."""
    try:
        import fcntl
    except ImportError:  # writes are atomic and identical, so without a lock it is only wasted work
        yield
        return
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
