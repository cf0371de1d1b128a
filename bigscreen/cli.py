"""The `bigscreen` command: one verb per job, each validating its input before it runs."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path

import click
from pydantic import ValidationError

from bigscreen import cli_admin
from bigscreen.configuration.loading import ConfigError
from bigscreen.process.settings import Settings

log = logging.getLogger("bigscreen")


def _settings(data_dir: Path | None = None) -> Settings:
    try:
        return Settings(**({"data_dir": data_dir} if data_dir else {}))
    except ValidationError as exc:
        raise click.ClickException(f"settings error: {'; '.join(map(_setting_problem, exc.errors()))}") from exc


def _setting_problem(error) -> str:
    """One setting's problem, named once (a check of several settings names them in its message)."""
    message = error["msg"].removeprefix("Value error, ")
    name = f"BIGSCREEN_{'_'.join(map(str, error['loc'])).upper()}" if error["loc"] else ""
    return f"{name}: {message}" if name and not message.startswith(name) else message


def _runtime(settings: Settings):
    from bigscreen.process.runtime import Runtime

    try:
        return Runtime.open(settings)
    except ConfigError as exc:
        raise click.ClickException(f"configuration error: {exc}") from exc


data_dir_option = click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                               help="Data directory (default: $BIGSCREEN_DATA_DIR or ./data).")


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log more.")
def main(verbose: bool) -> None:
    """bigscreen: the command-centre wall for grid-based city governance."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not verbose:
        for noisy in ("httpx", "alembic", "apscheduler"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


@main.command("check-config")
def check_config() -> None:
    """Load and validate config/; print a summary or what is wrong and where."""
    rt = _runtime(_settings())
    cfg = rt.config
    click.echo(f"{cfg.city.name}: {len(cfg.categories)} categories, {sum(len(c.items) for c in cfg.categories)} sub-items, "
               f"{len(cfg.departments)} departments")


@main.command("init")
@data_dir_option
def init(data_dir: Path | None) -> None:
    """Create or migrate the database and load the configuration tables."""
    from bigscreen.process.datadir import prepare_database

    prepare_database(_runtime(_settings(data_dir)))
    click.echo("database ready")


@main.group()
def city() -> None:
    """The city's areas, grids, workers and people-and-housing figures."""


@city.command("build")
@data_dir_option
@click.option("--synthetic", is_flag=True, help="Build a synthetic city even if real outlines are available.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def city_build(data_dir: Path | None, synthetic: bool, quiet: bool) -> None:
    """Build the demo city into the database (replaces any city already there, not one with cases on it)."""
    from bigscreen.process.datadir import CityInUse, build_city, prepare_database

    settings = _settings(data_dir)
    rt = _runtime(settings)
    try:
        prepare_database(rt)
        count = build_city(rt, synthetic=synthetic, progress=not quiet)
    except CityInUse as exc:
        raise click.ClickException(f"{exc}; or, for a fresh demo, give another --data-dir") from None
    finally:
        rt.close()
    _take_up_new_map(settings, progress=not quiet)
    click.echo(f"city built: {count} areas; running pages take up the new map within seconds")


@city.command("import")
@data_dir_option
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--crs", default=None, help="The files' coordinates: gcj02 (高德), bd09 (百度), wgs84, cgcs2000 or EPSG:<number>; "
              "default: the file's own (.prj); none and no --crs is refused.")
@click.option("--fields", "fields_spec", default=None, help="Attribute names, e.g. code=GRID_CODE,name=NAME,parent=SQ_CODE (default: code, name).")
@click.option("--fields-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The same mapping in a YAML file (fields: {code: GRID_CODE, name: NAME}).")
@click.option("--encoding", default=None, help="The .dbf's text encoding (default: its .cpg, else UTF-8 or GBK, whichever reads).")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the checks' report to this JSON file.")
@click.option("--mapping", "mapping_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Re-import over cases: a CSV or XLSX of old grid code → new grid code (columns old, new) for the open "
                   "cases of grids the new map retires (default: each case by its point).")
@click.option("--dry-run", is_flag=True, help="Check and report only (over cases: what would be retired, added, renamed "
                                              "and which open cases would move); write nothing.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def city_import(data_dir: Path | None, paths: tuple[Path, ...], crs: str | None, fields_spec: str | None,
                fields_file: Path | None, encoding: str | None, report_path: Path | None, mapping_path: Path | None,
                dry_run: bool, quiet: bool) -> None:
    """Import the city's own grid boundaries (GeoJSON, Shapefile or zipped Shapefile, GeoPackage) in place of the
    map there; over a map with cases, a re-import: retired codes kept, open cases moved."""
    from bigscreen.geo.importing import BoundaryFileError, FieldMap, ImportReport, plan_import
    from bigscreen.imports.remap import MappingError, read_mapping

    if fields_spec and fields_file:
        raise click.UsageError("give --fields or --fields-file, not both")
    try:
        fields = FieldMap.load(fields_file) if fields_file else FieldMap.parse(fields_spec)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--fields-file" if fields_file else "--fields") from None
    try:
        mapping = read_mapping(mapping_path)
    except MappingError as exc:
        raise click.BadParameter(str(exc), param_hint="--mapping") from None
    settings = _settings(data_dir)
    rt = _runtime(settings)
    try:
        report, plan = plan_import(list(paths), rt.config.city, crs=crs, encoding=encoding, fields=fields, progress=not quiet)
    except BoundaryFileError as exc:
        report, plan = ImportReport(), None
        report.error("file", str(exc))
    click.echo(report.text())
    if report_path:
        try:
            report_path.write_bytes(report.json())
        except OSError as exc:
            raise click.BadParameter(f"cannot write {report_path}: {exc.strerror}", param_hint="--report") from None
    if not report.ok:
        raise click.ClickException(f"{len(report.errors)} error{'s' if len(report.errors) != 1 else ''}: "
                                   "import refused, the database is untouched")
    from bigscreen.process.datadir import cases_stored, prepare_database

    over_cases = cases_stored(rt)
    if over_cases:
        prepare_database(rt)  # the schema that retires areas
        _check_remap(rt, plan, mapping)
    elif mapping:
        click.echo(f"{mapping_path}: no cases on the map there, nothing to move: the mapping file is not needed")
    rt.close()
    if dry_run:
        click.echo("dry run: nothing written")
        return
    _store_imported_city(settings, plan, mapping, mapping_path if over_cases else None, over_cases, not quiet)


def _check_remap(rt, plan, mapping: dict[str, str]) -> None:
    """Over a map with cases: prints what the re-import would change; refuses on an error."""
    from bigscreen.imports.remap import plan_remap

    with rt.sessions() as session:
        remap = plan_remap(session, plan, mapping)
    click.echo(remap.text())
    if not remap.ok:
        raise click.ClickException(f"{len(remap.errors)} error{'s' if len(remap.errors) != 1 else ''}: "
                                   "re-import refused, the database is untouched")


def _store_imported_city(settings: Settings, plan, mapping: dict[str, str], mapping_path: Path | None,
                         over_cases: bool, progress: bool) -> None:
    """Store the map (over cases: the re-import, in one transaction), then `_take_up_new_map`."""
    from bigscreen.imports.remap import RemapRefused, remap_city
    from bigscreen.process.datadir import CityInUse, import_city, prepare_database

    rt = _runtime(settings)
    try:
        prepare_database(rt)
        if over_cases:
            remap = remap_city(rt, plan, mapping, mapping_name=mapping_path.name if mapping_path else None, progress=progress)
            count = f"{len(plan.areas)} areas, {len(remap.retired)} retired, {len(remap.moves)} open case(s) moved"
        else:
            count = f"{import_city(rt, plan, progress=progress)} areas"
    except (CityInUse, RemapRefused) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        rt.close()
    manifest = _take_up_new_map(settings, progress)
    click.echo(f"city imported: {count}; map files {', '.join(i['file'] for i in manifest['levels'].values())}; "
               "live counters rebuilt; running pages take up the new map within seconds.")


def _take_up_new_map(settings: Settings, progress: bool) -> dict:
    """After a map is stored (`city build`, `city import`): rebuild the map files per level, put the live
    counters where SQL says, and tell running processes (`map:version`). Returns the files' manifest."""
    from bigscreen.geo.assets import ensure_level_assets
    from bigscreen.jobs.watch import announce_map, repair
    from bigscreen.process.datadir import ensure_redis, release_redis

    import redis

    settings, owned = ensure_redis(settings)
    try:
        rt = _runtime(settings)
        try:
            manifest = ensure_level_assets(rt, progress=progress)
            click.echo("rebuilding the live counters ...")
            repair(rt)
            announce_map(rt)
        except redis.RedisError as exc:
            raise click.ClickException(
                f"the map is stored and its files built, but Redis did not answer ({exc}): the live "
                "counters are not rebuilt and running processes do not know of the new map; restart them, or run this "
                "command again once Redis answers") from None
        finally:
            rt.close()
    finally:
        release_redis(owned, settings)
    return manifest


@main.group()
def apikey() -> None:
    """API keys of event sources."""


@apikey.command("create")
@data_dir_option
@click.option("--source", required=True, help="Name of the source, e.g. hotline-12345.")
def apikey_create(data_dir: Path | None, source: str) -> None:
    """Create a key for SOURCE and print it (it is shown only once)."""
    from bigscreen.api.auth import create_api_key
    from bigscreen.process.datadir import prepare_database

    source = source.strip()
    if not source or len(source) > 64:
        raise click.BadParameter("must be 1 to 64 characters", param_hint="--source")
    rt = _runtime(_settings(data_dir))
    prepare_database(rt)
    click.echo(create_api_key(rt, source))


@main.group()
def user() -> None:
    """People's accounts."""


@user.command("add")
@data_dir_option
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(["leader", "duty", "admin"]), help="What the account may do.")
@click.option("--area", default=None, help="Area code a leader (or a district's duty officer) is limited to.")
@click.option("--name", "display_name", default=None, help="The person's name as shown, e.g. 张伟.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input instead of asking.")
def user_add(data_dir: Path | None, username: str, role: str, area: str | None, display_name: str | None,
             password_stdin: bool) -> None:
    """Create an account; the password is asked for (never an argument: it would stay in the shell's history)."""
    from bigscreen.auth.users import AccountError, add_user
    from bigscreen.process.datadir import prepare_database

    if password_stdin:
        password = click.get_text_stream("stdin").readline().rstrip("\n")
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    rt = _runtime(_settings(data_dir))
    prepare_database(rt)
    try:
        add_user(rt, username, password, role, area, display_name)
    except AccountError as exc:
        raise click.BadParameter(str(exc).split(": ", 1)[1], param_hint=exc.field) from None
    click.echo(f"account '{username}' created ({role}{', area ' + area if area else ''})")


@user.command("unlock")
@data_dir_option
@click.argument("username")
@click.option("--address", default=None, help="Also clear this network address's failures (password spraying from it).")
def user_unlock(data_dir: Path | None, username: str, address: str | None) -> None:
    """Clear an account's failed sign-ins, so it signs in at once from anywhere (the way back for a locked-out admin)."""
    import getpass

    from sqlalchemy import select

    from bigscreen.auth.audit import record
    from bigscreen.auth.ratelimit import LoginLimiter
    from bigscreen.db.models import User
    from bigscreen.process.datadir import ensure_redis, release_redis

    settings, owned = ensure_redis(_settings(data_dir))
    try:
        rt = _runtime(settings)
        with rt.sessions() as session:
            name = session.scalar(select(User.username).where(User.username == username))
        if name is None:
            raise click.BadParameter(f"no account '{username}'", param_hint="username")
        cleared = LoginLimiter(rt).unlock(name, address)
        record(rt, None, "unlock", subject=name, channel="system",
               detail={"cleared": cleared, "address": address, "by": getpass.getuser()})
        click.echo(f"account '{name}' unlocked" + (f" and address {address}" if address else "")
                   + f" ({cleared} window{'s' if cleared != 1 else ''} of failures cleared)")
    finally:
        release_redis(owned, settings)


@main.group()
def kiosk() -> None:
    """Wall kiosk tokens."""


@kiosk.command("create")
@data_dir_option
@click.option("--name", required=True, help="Which wall, e.g. 指挥大厅主屏.")
@click.option("--scope", default=None, help="An area code the wall is limited to (default: the whole city).")
def kiosk_create(data_dir: Path | None, name: str, scope: str | None) -> None:
    """Create a wall's token and print its URL path (shown only once)."""
    from bigscreen.auth.kiosk import create_kiosk_token
    from bigscreen.process.datadir import prepare_database

    rt = _runtime(_settings(data_dir))
    prepare_database(rt)
    try:
        token = create_kiosk_token(rt, name.strip(), scope)
    except ValueError as exc:
        raise click.BadParameter(str(exc).split(": ", 1)[1], param_hint="--scope") from None
    click.echo(f"/wall?token={token}" + (f"&scope={scope}" if scope else ""))


cli_admin.register(main, apikey, kiosk, user, data_dir_option, _settings, _runtime)


def _table_options(command):
    """Options every table import takes."""
    for option in reversed([
        data_dir_option,
        click.option("--columns", default=None, help="Which column holds which field, e.g. grid=网格编码,name=姓名."),
        click.option("--mapping", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
                     help="A YAML with columns: (and for cases categories:, statuses:); --columns wins over it."),
        click.option("--errors", "errors_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help="Write every error (file, row, column, problem) to this CSV."),
        click.option("--encoding", default=None, help="A CSV's encoding (default: UTF-8 with or without BOM, else GBK)."),
        click.option("--header-row", default=1, show_default=True, type=click.IntRange(1, 1000),
                     help="The row that holds the column headers."),
        click.option("--sheet", default=None, help="An XLSX's sheet (default: the first)."),
    ]):
        command = option(command)
    return command


def _mappings(columns: str | None, mapping: Path | None) -> dict[str, dict[str, str]]:
    from bigscreen.imports.tabular import TableError, load_mapping, parse_columns

    try:
        loaded = load_mapping(mapping)
        loaded["columns"] = loaded.get("columns", {}) | parse_columns(columns)
    except TableError as exc:
        raise click.ClickException(str(exc)) from None
    return loaded


def _run_import(command, what: str) -> dict:
    """Runs an import command; a refusal prints the file, each error's row and column, and exits 1."""
    from bigscreen.domain.schemas import Problem
    from bigscreen.imports.rows import describe

    try:
        return command.run()
    except Problem as exc:
        detail = exc.detail if isinstance(exc.detail, dict) else {"message": str(exc.detail)}
        lines = [detail.get("message", f"{what} refused")]
        shown = detail.get("errors") or []
        lines += [f"  {describe(e)}" for e in shown]
        if detail.get("count", 0) > len(shown):
            lines.append(f"  … and {detail['count'] - len(shown)} more"
                         + (f" (all in {detail['errors_file']})" if detail.get("errors_file") else " (--errors FILE lists them all)"))
        raise click.ClickException("\n".join(lines)) from None


def _import_runtime(data_dir: Path | None, with_redis: bool):
    from bigscreen.process.datadir import ensure_redis

    settings, owned = ensure_redis(_settings(data_dir)) if with_redis else (_settings(data_dir), None)
    return _runtime(settings), settings, owned


@main.group()
def people() -> None:
    """People and housing (人房) per grid."""


@people.command("import")
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@_table_options
def people_import(file: Path, **table) -> None:
    """Import each grid's residents, households, buildings, key places and people cared for (CSV or XLSX); all or nothing."""
    from bigscreen.imports.roster import ImportPeople

    _roster_import(ImportPeople, file, "people import", "grid(s)", **table)


@main.group()
def workers() -> None:
    """The grids' workers and helpers (1+N)."""


@workers.command("import")
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@_table_options
def workers_import(file: Path, **table) -> None:
    """Import grid workers and helpers (name, phone, grid, role) from CSV or XLSX; all or nothing."""
    from bigscreen.imports.roster import ImportWorkers

    _roster_import(ImportWorkers, file, "workers import", "worker(s)", **table)


def _roster_import(command, file: Path, what: str, unit: str, *, data_dir: Path | None, columns: str | None,
                   mapping: Path | None, errors_path: Path | None, encoding: str | None, header_row: int,
                   sheet: str | None) -> None:
    """People or workers: the same options, the same run, the same answer."""
    rt, _, _ = _import_runtime(data_dir, False)
    try:
        done = _run_import(command(rt, file, _mappings(columns, mapping)["columns"], errors_path=errors_path,
                                   encoding=encoding, header_row=header_row, sheet=sheet), what)
    finally:
        rt.close()
    click.echo(f"{file}: {done['rows']} {unit} imported ({done['added']} new, {done['updated']} updated)")


@main.group()
def events() -> None:
    """Cases (events)."""


@events.command("import")
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--source", required=True, help="The system the cases come from, e.g. hotline-12345 (with each case's id: "
                                               "a case imported again is skipped).")
@click.option("--channel", default="hotline_12345", show_default=True, help="The channel of rows without one.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@_table_options
def events_import(file: Path, source: str, channel: str, quiet: bool, data_dir: Path | None, columns: str | None,
                  mapping: Path | None, errors_path: Path | None, encoding: str | None, header_row: int,
                  sheet: str | None) -> None:
    """Import historical cases with their statuses and times (CSV or XLSX); all or nothing; the live figures rebuilt after."""
    from bigscreen.imports.history import ImportEvents
    from bigscreen.process.datadir import release_redis

    maps = _mappings(columns, mapping)
    rt, settings, owned = _import_runtime(data_dir, True)
    try:
        done = _run_import(ImportEvents(
            rt, file, source, columns=maps["columns"], categories=maps.get("categories"), statuses=maps.get("statuses"),
            channel=channel, errors_path=errors_path or file.with_name(file.name + ".errors.csv"), encoding=encoding,
            header_row=header_row, sheet=sheet, progress=not quiet), "events import")
    finally:
        rt.close()
        release_redis(owned, settings)
    click.echo(f"{file}: {done['rows']} row(s): {done['created']} case(s) imported, {done['skipped']} already there; "
               "live figures rebuilt")


@main.command("report")
@click.option("--period", required=True, help="2026-W48 (a week), 2026-11 (a month), 2026-Q4, 2026, or "
                                               "2026-11-03..2026-11-17 (days, both included), in the city's calendar.")
@click.option("--area", default=None, help="Area code (default: the city).")
@click.option("--kind", type=click.Choice(["cases", "workers"]), default="cases", show_default=True,
              help="cases: the report; workers: the grid-worker assessment (网格员考核, a street, a district or the city).")
@click.option("--worker", "worker_id", type=click.IntRange(1, 2**31 - 1), default=None, help="With --kind workers: only this worker's page "
                                                                     "(and their street's ranking).")
@click.option("--format", "fmt", default=None, help="html, pdf or xlsx (default: the suffix of --out).")
@click.option("--out", required=True, type=click.Path(dir_okay=False, writable=True, path_type=Path))
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@data_dir_option
def report_cmd(period: str, area: str | None, kind: str, worker_id: int | None, fmt: str | None, out: Path, lang: str,
               data_dir: Path | None) -> None:
    """Write the report of a period and an area, its figures counted in SQL (docs/METRICS.md, "Reports"),
    as HTML, PDF (Chromium: BIGSCREEN_CHROMIUM) or XLSX; or with --kind workers the grid workers' assessment
    ("Grid-worker assessment"): the ranking and one page per worker, in any of the three."""
    import contextlib
    from datetime import UTC, datetime

    from bigscreen.reports.periods import PeriodError, parse_period
    from bigscreen.reports.report import ReportError
    from bigscreen.screens.report_formats import FORMATS, FormatError, check_format
    from bigscreen.screens.report_pdf import PdfError, PdfPrinter

    if worker_id is not None and kind != "workers":
        raise click.BadParameter("only with --kind workers", param_hint="'--worker'")
    suffix = out.suffix.lstrip(".").lower()
    try:
        fmt = check_format(fmt.lower() if fmt else suffix)
    except FormatError as exc:
        raise click.BadParameter(f"{exc}" if fmt else f"{out.name}: say --format ({', '.join(FORMATS)}) or give "
                                 f"--out one of their suffixes", param_hint="'--format'") from None
    settings = _settings(data_dir)
    rt = _runtime(settings)
    try:
        with contextlib.ExitStack() as stack:
            try:  # Chromium starts while the figures are counted
                printer = stack.enter_context(PdfPrinter(settings.chromium)) if fmt == "pdf" else None
            except PdfError as exc:
                raise click.ClickException(str(exc)) from None
            now = datetime.now(UTC)
            try:
                chosen = parse_period(period, now.astimezone(rt.tz).date())
                if kind == "workers":
                    data, summary = _assessment(rt, chosen, area, worker_id, now, lang, fmt, printer)
                else:
                    data, summary = _report(rt, chosen, area, now, lang, fmt, printer)
            except (PeriodError, ReportError) as exc:
                hint = "'--period'" if isinstance(exc, PeriodError) else \
                    "'--area', '--worker' or '--period'" if kind == "workers" else "'--area' or '--period'"
                raise click.BadParameter(str(exc), param_hint=hint) from None
            except PdfError as exc:
                raise click.ClickException(str(exc)) from None
    finally:
        rt.close()
    partial = out.with_name(out.name + ".partial")
    partial.write_bytes(data)
    partial.replace(out)  # whole or not at all
    click.echo(f"{out}: {summary}")


def _report(rt, period, area, now, lang, fmt, printer) -> tuple[bytes, str]:
    from bigscreen.reports.report import build_report
    from bigscreen.screens.report_formats import render_report

    report = build_report(rt, period, area, now)
    data = render_report(report, fmt, rt.tz, lang, printer=printer)
    return data, f"{report.area_name} {report.period.label} ({fmt}), {report.headline['reported'].value} cases reported"


def _assessment(rt, period, area, worker_id, now, lang, fmt, printer) -> tuple[bytes, str]:
    from bigscreen.reports.assessment import build_assessment
    from bigscreen.screens.report_formats import render_assessment

    assessed = build_assessment(rt, period, area, now, worker_id)
    data = render_assessment(assessed, fmt, rt.tz, lang, worker_id, printer=printer)
    return data, f"{assessed.area_name} {period.label} ({fmt}), {len(assessed.workers)} grid workers assessed"


@main.command("rebuild")
@data_dir_option
def rebuild_cmd(data_dir: Path | None) -> None:
    """Recompute every live counter in Redis from SQL."""
    from bigscreen.jobs.watch import repair
    from bigscreen.process.datadir import ensure_redis, release_redis

    settings, owned = ensure_redis(_settings(data_dir))
    try:
        rt = _runtime(settings)
        count = repair(rt)  # rebuild, and mark the figures verified (bigscreen.jobs.watch)
        rt.close()
        click.echo(f"rebuilt live counters from {count} events")
    finally:
        release_redis(owned, settings)


@main.command("backup")
@data_dir_option
@click.argument("archive", type=click.Path(dir_okay=False, path_type=Path))
def backup_cmd(data_dir: Path | None, archive: Path) -> None:
    """Write a consistent snapshot of the embedded database and the config to ARCHIVE (.tar.gz), also while the app runs."""
    from bigscreen.process.backup import BackupError, backup

    try:
        manifest = backup(_settings(data_dir), archive)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"backed up the database and {len(manifest.config_files)} config file(s) to {archive}")


@main.command("restore")
@data_dir_option
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--replace", is_flag=True, help="Overwrite the data dir's database (everything using it stopped).")
def restore_cmd(data_dir: Path | None, archive: Path, replace: bool) -> None:
    """Restore a backup into a stopped data dir, then rebuild the live figures in Redis from it."""
    from bigscreen.jobs.watch import repair
    from bigscreen.process.backup import BackupError, restore
    from bigscreen.process.datadir import ensure_redis, release_redis

    settings = _settings(data_dir)
    try:
        restore(settings, archive, replace=replace)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    settings, owned = ensure_redis(settings)
    try:
        rt = _runtime(settings)
        count = repair(rt)
        rt.close()
    finally:
        release_redis(owned, settings)
    click.echo(f"restored {archive}; live figures rebuilt from {count} events; its config is in "
               f"{settings.data_dir / 'config'} (point BIGSCREEN_CONFIG_DIR there to use it)")


@main.command("serve")
@data_dir_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8050, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
def serve(data_dir: Path | None, host: str, port: int, workers: int) -> None:
    """Run the web app (API and pages) in several worker processes."""
    import os
    import shutil
    import tempfile

    import uvicorn

    from bigscreen.jobs.watch import sync_live
    from bigscreen.process.balanced_accept import ACCEPT_DIR_ENV
    from bigscreen.process.datadir import ensure_redis, prepare_database, release_redis

    settings = _settings(data_dir)
    os.environ["BIGSCREEN_DATA_DIR"] = str(settings.data_dir)
    settings, owned = ensure_redis(settings)  # this process keeps it alive while the workers serve
    accept_dir = None
    try:
        rt = _runtime(settings)
        prepare_database(rt)
        if sync_live(rt):
            click.echo("live counters rebuilt from the database")
        rt.close()
        loop = "auto"
        if workers > 1:
            # each worker a fresh process: its figures go to files a scrape of any worker sums; a directory per
            # port, so that another serve on this data dir (scale-out on one host) never empties this one's
            _metrics_dir(settings.data_dir / "metrics" / f"serve-{port}")
            # they share one listening socket: its connections spread over them (balanced_accept)
            accept_dir = Path(tempfile.mkdtemp(prefix="bigscreen-accept-"))  # this serve's workers' alone
            os.environ[ACCEPT_DIR_ENV] = str(accept_dir)
            loop = "bigscreen.process.balanced_accept:new_event_loop"
        uvicorn.run("bigscreen.asgi:app", factory=True, host=host, port=port, workers=workers, log_level="warning",
                    ws_per_message_deflate=settings.ws_deflate, loop=loop)
    finally:
        if accept_dir is not None:
            shutil.rmtree(accept_dir, ignore_errors=True)
        release_redis(owned, settings)


def _metrics_dir(path: Path) -> None:
    """prometheus-client's multiprocess mode for the workers about to start (they inherit the
    environment), in a directory emptied of an earlier run's files."""
    import os
    import shutil

    from bigscreen.process.metrics import MULTIPROC_ENV

    if os.environ.get(MULTIPROC_ENV):
        return  # the operator chose one
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    os.environ[MULTIPROC_ENV] = str(path)


@main.command("scheduler")
@data_dir_option
def scheduler_cmd(data_dir: Path | None) -> None:
    """Run the scheduled jobs (deadline sweep, wall frames ...) until stopped, while this process leads."""
    from bigscreen.jobs import schedule
    from bigscreen.process.datadir import ensure_redis, release_redis

    settings, owned = ensure_redis(_settings(data_dir))
    try:
        rt = _runtime(settings)
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        background = schedule.start_background(rt)
        try:
            stop.wait()
        finally:
            background.shutdown()
            rt.close()
    finally:
        release_redis(owned, settings)


@main.command("simulate")
@click.option("--url", default="http://127.0.0.1:8050", show_default=True, help="The server's base URL.")
@click.option("--api-key", envvar="BIGSCREEN_API_KEY", required=True, help="A source key ($BIGSCREEN_API_KEY).")
@click.option("--rate", default=2.0, show_default=True, type=click.FloatRange(0.01, 10000), help="New events per second.")
@click.option("--backfill-days", default=0, show_default=True, type=click.IntRange(0, 90), help="Days of history to send first.")
@click.option("--seed", default=None, type=int)
def simulate(url: str, api_key: str, rate: float, backfill_days: int, seed: int | None) -> None:
    """Send realistic events through the real API and move them along their life."""
    from bigscreen.simulation.simulator import Simulator

    sim = Simulator(url, api_key, rate=rate, seed=seed)
    if backfill_days:
        sim.backfill(days=backfill_days)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        sim.run(stop)
    except KeyboardInterrupt:
        stop.set()


@main.command("demo")
@data_dir_option
@click.option("--port", default=8050, show_default=True, type=click.IntRange(1, 65535))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--rate", default=0.2, show_default=True, type=click.FloatRange(0.01, 1000),
              help="Simulated events per second (Dongying's published 900,000 a year is about 0.03).")
@click.option("--backfill-days", default=35, show_default=True, type=click.IntRange(0, 90),
              help="Days of history at the same rate, sent in process when the city is first built: the last "
                   "day before the live city starts, the earlier ones in the background (what a stop cut short, "
                   "at the next start).")
def demo(data_dir: Path | None, port: int, host: str, rate: float, backfill_days: int) -> None:
    """Everything in one process: database, Redis, city, server, scheduler and simulator."""
    from bigscreen.demo import run_demo

    settings = _settings(data_dir)
    config = _runtime(settings).config  # a broken config stops here, with its file and key
    sys.exit(run_demo(settings, config, host=host, port=port, rate=rate, backfill_days=backfill_days))


if __name__ == "__main__":
    main()
