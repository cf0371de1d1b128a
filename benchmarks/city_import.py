"""`bigscreen city import` of a 6,000-grid city with all checks (target: under 30 s on this machine).

The demo city (config/, 6,000 grids) is written with pyogrio as a GIS office would send it: one
zipped Shapefile, GCJ-02 coordinates, GBK names without a .cpg. Measured, median of --runs:
  plan   read + convert + link + every check (bigscreen.geo.importing.plan_import), in process;
  whole  the command itself in a new process on a new data dir (SQLite, embedded Redis): the above,
         storing, the map files per level and the live counters' rebuild.

    .venv/bin/python benchmarks/city_import.py [--grids 6000] [--runs 3] [--densify METRES]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from city_files import gcj02, write_layer  # noqa: E402

from bigscreen.configuration.loading import load_config  # noqa: E402
from bigscreen.geo.citybuild import build_city  # noqa: E402
from bigscreen.geo.importing import plan_import  # noqa: E402
from bigscreen.process.settings import REPO_CONFIG_DIR  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--grids", type=int, default=6000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--densify", type=float, default=0, help="Add vertices every N metres (real exports are denser).")
    args = parser.parse_args()
    cfg = load_config(REPO_CONFIG_DIR)
    cfg.city = cfg.city.model_copy(update={"demo": cfg.city.demo.model_copy(update={"grids": args.grids})})
    city = build_city(cfg.city, progress=False)
    if args.densify:
        import shapely

        for area in city.areas:
            area.geometry = shapely.segmentize(area.geometry, args.densify / 111_000)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        shp = write_layer(tmp / "网格.shp", city.areas[1:], shift=gcj02, driver="ESRI Shapefile", encoding="GBK")
        shp.with_suffix(".cpg").unlink()
        archive = tmp / "city.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
            for part in tmp.glob("网格.*"):
                z.write(part, part.name)
        vertices = sum(len(a.geometry.exterior.coords) if a.geometry.geom_type == "Polygon" else
                       sum(len(p.exterior.coords) for p in a.geometry.geoms) for a in city.areas[1:])
        print(f"{len(city.at_level('grid'))} grids, {len(city.areas) - 1} areas, {vertices:,} vertices, "
              f"zip {archive.stat().st_size / 1e6:.1f} MB")
        plans, wholes = [], []
        for run in range(args.runs):
            started = time.perf_counter()
            report, plan = plan_import([archive], cfg.city, crs="gcj02")
            plans.append(time.perf_counter() - started)
            assert report.ok, report.text()
            env = {**os.environ, "BIGSCREEN_DATA_DIR": str(tmp / f"data{run}")}
            env.pop("BIGSCREEN_DATABASE_URL", None)
            env.pop("BIGSCREEN_REDIS_URL", None)
            started = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "bigscreen.cli", "city", "import", str(archive), "--crs", "gcj02",
                                   "--quiet"], env=env, capture_output=True, text=True, cwd=ROOT)  # this checkout's code
            wholes.append(time.perf_counter() - started)
            assert done.returncode == 0, done.stdout + done.stderr
            print(f"run {run + 1}: plan {plans[-1]:.2f} s, whole command {wholes[-1]:.2f} s")
    load = os.getloadavg()
    print(f"median: plan {statistics.median(plans):.2f} s, whole command {statistics.median(wholes):.2f} s "
          f"(target 30 s); load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
