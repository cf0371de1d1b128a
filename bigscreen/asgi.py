"""Entry for uvicorn workers: `uvicorn --factory bigscreen.asgi:app` with BIGSCREEN_* set."""

from bigscreen.app import create_app
from bigscreen.runtime import Runtime
from bigscreen.settings import Settings


def app():
    return create_app(Runtime.open(Settings())).server
