"""A source's timestamp with no UTC equivalent is a field error, not a server error later."""

import pytest
from pydantic import ValidationError

from bigscreen.domain.schemas import EventIn

BODY = {"source_id": "t-1", "channel": "grid_app", "item": "x", "grid": "g", "description": "路灯不亮"}


def test_a_time_out_of_range_is_named():
    with pytest.raises(ValidationError) as err:
        EventIn.model_validate({**BODY, "reported_at": "0001-01-01T00:00:00+14:00"})
    assert [(e["loc"], e["msg"]) for e in err.value.errors()] == [(("reported_at",), "is out of range (no such time in UTC)")]
    assert EventIn.model_validate({**BODY, "reported_at": "2026-11-22T09:30:00+08:00"}).reported_at.hour == 9
