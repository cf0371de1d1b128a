"""/api/v1: whistles (filled in by the closed-loop work)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1", tags=["whistles"])
