"""Every demo start used to issue a new API key and wall token while the old ones kept working: now
the demo reuses its own while they are valid (a wall opened from an earlier banner keeps working) and
revokes anything else it issued."""

from __future__ import annotations

from bigscreen.api.auth import create_api_key
from bigscreen.auth.kiosk import KioskTokens, create_kiosk_token
from bigscreen.simulation.credentials import demo_credentials


def test_the_demo_reuses_its_key_and_token_and_revokes_the_rest(client, runtime):
    stray_key = create_api_key(runtime, "demo-simulator")  # what an earlier version issued at each start
    stray_token = create_kiosk_token(runtime, "演示大屏 demo wall")
    first = demo_credentials(runtime, "demo-simulator", "演示大屏 demo wall")
    assert demo_credentials(runtime, "demo-simulator", "演示大屏 demo wall") == first, "the same at the next start"
    key, token = first

    client.headers["X-API-Key"] = key
    assert client.get("/api/v1/kpi").status_code == 200
    client.headers["X-API-Key"] = stray_key
    assert client.get("/api/v1/kpi").status_code == 401, "a key the demo no longer uses is revoked"
    assert KioskTokens(runtime).principal(token) is not None
    assert KioskTokens(runtime).principal(stray_token) is None

    (runtime.settings.data_dir / "demo-credentials.json").write_text("{not json")
    key2, token2 = demo_credentials(runtime, "demo-simulator", "演示大屏 demo wall")
    assert key2 != key and KioskTokens(runtime).principal(token) is None, "a lost file: new ones, the old revoked"
    assert oct((runtime.settings.data_dir / "demo-credentials.json").stat().st_mode & 0o777) == "0o600"
