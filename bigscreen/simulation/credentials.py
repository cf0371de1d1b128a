"""The demo's API key and wall token: the same at every start while they are valid, so a wall opened
from an earlier banner keeps working; whatever the demo issued before and does not reuse is revoked."""

from __future__ import annotations

import json
import os
from pathlib import Path

from sqlalchemy import select, update

from bigscreen.api.auth import create_api_key, hash_key
from bigscreen.auth.kiosk import create_kiosk_token, token_digest
from bigscreen.db.models import ApiKey, KioskToken
from bigscreen.process.runtime import Runtime

FILE = "demo-credentials.json"  # in the data dir, readable by its owner only


def demo_credentials(rt: Runtime, source: str, wall_name: str) -> tuple[str, str]:
    """(API key of `source`, kiosk token of the wall named `wall_name`)."""
    path = Path(rt.settings.data_dir) / FILE
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError):
        saved = {}
    key, token = saved.get("api_key"), saved.get("wall_token")
    now = rt.clock()
    with rt.sessions() as session:
        if not (isinstance(key, str) and session.scalar(select(ApiKey.id).where(
                ApiKey.key_hash == hash_key(key), ApiKey.source == source, ApiKey.revoked_at.is_(None)))):
            key = None
        if not (isinstance(token, str) and session.scalar(select(KioskToken.id).where(
                KioskToken.token_hash == token_digest(token), KioskToken.name == wall_name, KioskToken.revoked_at.is_(None)))):
            token = None
    key = key or create_api_key(rt, source)
    token = token or create_kiosk_token(rt, wall_name)
    with rt.sessions() as session, session.begin():
        session.execute(update(ApiKey).where(ApiKey.source == source, ApiKey.key_hash != hash_key(key),
                                             ApiKey.revoked_at.is_(None)).values(revoked_at=now))
        session.execute(update(KioskToken).where(KioskToken.name == wall_name, KioskToken.token_hash != token_digest(token),
                                                 KioskToken.revoked_at.is_(None)).values(revoked_at=now))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"api_key": key, "wall_token": token}, f)
    return key, token
