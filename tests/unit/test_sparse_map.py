"""The map's values travel sparse: skips and values, read back against the page's area codes."""

from tests_support import unsparse

from bigscreen.wall.frame import sparse


def test_sparse_round_trips_and_is_short_for_quiet_cities():
    values = [0, 0, 3, 0, 1, 1, 0, 0, 0, 7]
    assert sparse(values) == [2, 3, 1, 1, 0, 1, 3, 7]
    assert unsparse(sparse(values), len(values)) == values
    assert sparse([0] * 1700) == [] and unsparse([], 4) == [0, 0, 0, 0]
    assert sparse([5]) == [0, 5] and unsparse([0, 5], 1) == [5]
