"""/api/v1: mediation (filled in by the closed-loop work)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1", tags=["mediation"])
