"""`events import` throughput beside a bare executemany of the same rows, and the memory an import holds.

    .venv/bin/python benchmarks/events_import.py [--grids 1000] [--rows 100000] [--repeat 3] [--memory 100000,300000]

1. Throughput: a CSV of `--rows` historical cases (written with the csv module: 60% closed, 15% closed
   and rated, 25% open; up to six step times each) is imported `--repeat` times (a new source each time)
   into SQLite, and the same event rows the import stores are inserted by a bare `executemany`
   (SQLAlchemy Core, chunks of 5,000, one transaction: no reading, no checks, no log) on the same
   database, measured in the same run, alternately. Printed: rows/s of each (medians) and the ratio
   (target ≥ 0.5), for the import's transaction and for the whole command (with the rebuild of the live
   counters after the commit, which counts every case in the database, not only the imported ones).
2. Memory: each size of `--memory` is imported in a process of its own (`--child`); printed is its peak
   resident memory (VmHWM) and that peak less the memory held before the import began. Streaming
   means the second figure does not grow with the rows.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bigscreen.live.server import EmbeddedRedis  # noqa: E402
from bigscreen.process.datadir import build_city, prepare_database  # noqa: E402
from bigscreen.process.runtime import Runtime  # noqa: E402
from bigscreen.process.settings import Settings  # noqa: E402

HEADER = ["工单编号", "事件小类", "紧急程度", "上报时间", "诉求内容", "事发地址", "网格编码", "办理状态", "派单时间", "签收时间",
          "处置时间", "核查时间", "办结时间", "评价时间", "评价", "化解层级"]


def write_cases(path: Path, rt: Runtime, n: int, seed: int = 7) -> None:
    """n cases, streamed to the file as they are made (a million take no memory here either)."""
    rng = random.Random(seed)
    grids = [g.code for g in rt.areas.at_level(rt.areas.grid_level)]
    items = [i.code for i in rt.config.items]
    now = datetime.now(timezone.utc).astimezone(rt.tz).replace(tzinfo=None) - timedelta(hours=1)
    fmt = "%Y-%m-%d %H:%M:%S"
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(HEADER)
        for k in range(n):
            reported = now - timedelta(seconds=rng.randrange(5 * 86400, 300 * 86400))
            steps = [reported + timedelta(minutes=m) for m in sorted(rng.sample(range(5, 5000), 5))]
            kind = rng.random()
            closed, rated = kind < 0.75, kind < 0.15
            t = [s.strftime(fmt) for s in steps]
            row = [f"H{k:08d}", rng.choice(items), "一般", reported.strftime(fmt), "解放中路社区3号楼楼道堆放杂物,已派网格员清理",
                   "解放中路88号", rng.choice(grids)]
            if closed:
                done = min(steps[-1] + timedelta(minutes=5), now - timedelta(minutes=1))
                row += ["已评价" if rated else "已办结", t[0], t[1], t[2], t[3], steps[4].strftime(fmt),
                        done.strftime(fmt) if rated else "", "满意" if rated else "", rng.choice(["网格", "社区", "街道"])]
            else:
                row += ["已派单", t[0], "", "", "", "", "", "", ""]
            out.writerow(row)


def stored_rows(rt: Runtime, path: Path, source: str) -> list[dict]:
    """The event rows the import stores for this file (its own row check), for the baseline."""
    from bigscreen.commands.checks import TimeWindow
    from bigscreen.imports.history import ImportEvents, _RowCheck
    from bigscreen.imports.rows import RowErrors

    command = ImportEvents(rt, path, source)
    command.validate()
    errors = RowErrors(command.table)
    check = _RowCheck(command, TimeWindow.of(rt), errors)
    rows = [r for r in (check(row.number, row.values) for row in command.table.rows()) if r is not None]
    assert not errors.count, errors.shown
    return rows


def bare_executemany(rt: Runtime, rows: list[dict]) -> float:
    from sqlalchemy import insert

    from bigscreen.db.models import Event

    t0 = time.perf_counter()
    with rt.engine.begin() as conn:
        for start in range(0, len(rows), 5000):
            conn.execute(insert(Event), rows[start:start + 5000])
    return time.perf_counter() - t0


def timed_import(command) -> tuple[float, float]:
    """Seconds of the whole import and of its last part, the rebuild of the live counters (its
    `publish`, timed by wrapping it: the import itself runs unchanged)."""
    publish, spent = command.publish, []

    def timed_publish():
        t = time.perf_counter()
        publish()
        spent.append(time.perf_counter() - t)

    command.publish = timed_publish
    t0 = time.perf_counter()
    command.run()
    return time.perf_counter() - t0, sum(spent)


def vm_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def child(data_dir: Path, redis_url: str, path: Path, source: str) -> None:
    from bigscreen.imports.history import ImportEvents

    rt = Runtime.open(Settings(data_dir=data_dir, redis_url=redis_url))
    rt.areas  # noqa: B018 - the area index loaded before the baseline is taken
    before = vm_kib("VmRSS")
    t0 = time.perf_counter()
    command = ImportEvents(rt, path, source)
    command.validate()  # run()'s three parts, one by one, to read the peak before the rebuild
    with rt.engine.begin() as conn:
        done = command.write(conn)
    seconds, peak = time.perf_counter() - t0, vm_kib("VmHWM")
    command.publish()
    print(json.dumps({"rows": done["created"], "seconds": seconds, "before_kib": before, "peak_kib": peak,
                      "rebuild_s": time.perf_counter() - t0 - seconds, "peak_with_rebuild_kib": vm_kib("VmHWM")}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--grids", type=int, default=1000)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--memory", default="100000,300000", help="row counts imported in processes of their own")
    ap.add_argument("--child", nargs=4, metavar=("DATA_DIR", "REDIS_URL", "FILE", "SOURCE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(Path(args.child[0]), args.child[1], Path(args.child[2]), args.child[3])
        return
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    tmp = Path(tempfile.mkdtemp(prefix="bench-import-"))
    with EmbeddedRedis(tmp / "redis", persist=False) as redis_server:
        settings = Settings(data_dir=tmp / "data", redis_url=redis_server.url)
        rt = Runtime.open(settings)
        rt.config.city = rt.config.city.model_copy(update={"demo": rt.config.city.demo.model_copy(update={"grids": args.grids})})
        prepare_database(rt)
        build_city(rt, progress=False)
        print(f"city: {len(rt.areas.at_level(rt.areas.grid_level))} grids; SQLite at {settings.data_dir}")
        path = tmp / "cases.csv"
        t = time.perf_counter()
        write_cases(path, rt, args.rows)
        print(f"{args.rows:,} cases written to CSV ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.1f} s")

        from bigscreen.imports.history import ImportEvents

        ours, bare = [], []
        for r in range(args.repeat):
            rows = stored_rows(rt, path, f"bare-{r}")
            bare.append(args.rows / bare_executemany(rt, rows))
            del rows
            seconds, rebuilding = timed_import(ImportEvents(rt, path, f"import-{r}"))
            ours.append((args.rows / seconds, args.rows / (seconds - rebuilding)))
            print(f"  repeat {r + 1}: bare {bare[-1]:,.0f} rows/s; import {ours[-1][1]:,.0f} rows/s "
                  f"({ours[-1][0]:,.0f} with the rebuild, which took {rebuilding:.1f} s)")
        if args.repeat:  # --repeat 0: memory only
            med_bare = statistics.median(bare)
            med_import = statistics.median(o[1] for o in ours)
            med_whole = statistics.median(o[0] for o in ours)
            print(f"events import: {med_import:,.0f} rows/s (median of {args.repeat}); with the rebuild of the live counters "
                  f"{med_whole:,.0f} rows/s")
            print(f"bare executemany of the same rows: {med_bare:,.0f} rows/s")
            print(f"ratio: {med_import / med_bare:.2f} (with the rebuild {med_whole / med_bare:.2f}); target >= 0.5")
        rt.close()

        for n in [int(x) for x in args.memory.split(",") if x.strip()]:
            big = tmp / f"cases-{n}.csv"
            write_cases(big, rt, n, seed=n)
            out = subprocess.run([sys.executable, __file__, "--child", str(settings.data_dir), redis_server.url, str(big),
                                  f"memory-{n}"], capture_output=True, text=True, check=True)
            m = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"memory, {n:,} rows ({big.stat().st_size / 1e6:.0f} MB): the import's transaction peaks at "
                  f"{m['peak_kib'] / 1024:.0f} MiB RSS, {(m['peak_kib'] - m['before_kib']) / 1024:.0f} MiB above the process "
                  f"before it ({m['rows'] / m['seconds']:,.0f} rows/s); with the rebuild after it (all "
                  f"the database's cases, {m['rebuild_s']:.0f} s) {m['peak_with_rebuild_kib'] / 1024:.0f} MiB")
            big.unlink()
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
