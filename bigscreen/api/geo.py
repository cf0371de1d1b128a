"""/geo: the static map files built by bigscreen.geo.assets. Public: outlines and names of areas only."""

from __future__ import annotations

from pathlib import Path

import orjson
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, Response

from bigscreen.geo.assets import geo_dir, load_manifest

router = APIRouter(prefix="/geo", tags=["geo"], include_in_schema=False)
IMMUTABLE = "public, max-age=31536000, immutable"  # file names change with their content


def _manifest(request: Request) -> tuple[dict, Path]:
    directory = geo_dir(request.app.state.runtime.settings)
    manifest = load_manifest(directory)
    if manifest is None:
        raise HTTPException(404, "the map files are not built yet")
    return manifest, directory


def _matches(request: Request, etag: str) -> bool:
    wanted = request.headers.get("if-none-match", "")
    return any(tag.strip().removeprefix("W/") in (etag, "*") for tag in wanted.split(",")) if wanted else False


def _accepts_gzip(request: Request) -> bool:
    for part in request.headers.get("accept-encoding", "").lower().split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip() in ("gzip", "*"):
            _, _, q = params.partition("q=")
            try:
                return float(q or 1) > 0
            except ValueError:
                return False
    return False


@router.get("/manifest.json")
def manifest_file(request: Request) -> Response:
    manifest, _ = _manifest(request)
    etag = f'"{manifest.get("fingerprint", "")}"'
    headers = {"Cache-Control": "no-cache", "ETag": etag}
    if _matches(request, etag):
        return Response(status_code=304, headers=headers)
    return Response(orjson.dumps(manifest), media_type="application/json", headers=headers)


@router.get("/{file_name}")
def level_file(file_name: str, request: Request) -> Response:
    manifest, directory = _manifest(request)
    info = next((i for i in manifest.get("levels", {}).values() if i["file"] == file_name), None)
    if info is None:  # only manifest names: nothing else in the data dir is reachable
        raise HTTPException(404, "no such map file")
    gz = _accepts_gzip(request)
    etag = f'"{info["hash"]}{"-gz" if gz else ""}"'
    headers = {"Cache-Control": IMMUTABLE, "ETag": etag, "Vary": "Accept-Encoding"}
    if _matches(request, etag):
        return Response(status_code=304, headers=headers)
    if gz:
        headers["Content-Encoding"] = "gzip"
    path = directory / (file_name + ".gz" if gz else file_name)
    if not path.is_file():
        raise HTTPException(404, "no such map file")
    return FileResponse(path, media_type="application/geo+json", headers=headers)


@router.get("/{rest:path}")
def not_a_map_file(rest: str) -> Response:
    """Paths with slashes would otherwise fall through to Dash's catch-all page route."""
    raise HTTPException(404, "no such map file")
