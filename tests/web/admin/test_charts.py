"""The admin's SVG charts label their axes with whole counts."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from tidings.web.admin import charts


@pytest.mark.parametrize("peak", [0, 1, 3, 5, 7, 10, 11, 49, 50, 1234, 2_000_001])
def test_axis_labels_are_distinct_whole_numbers_covering_the_peak(peak: int) -> None:
    start = date(2026, 9, 1)
    points = [(start + timedelta(days=i), peak * i // 9) for i in range(10)]
    svg = str(charts.line(points, label="Subscribers"))
    axis_x = charts.PAD_LEFT - 6
    labels = re.findall(rf'x="{axis_x}" y="[^"]+" text-anchor="end">([^<]+)</text>', svg)
    assert len(labels) == 3 and len(set(labels)) == 3, labels
    values = [float(x.replace(",", "").replace("k", "e3").replace("M", "e6")) for x in labels]
    assert values[0] == 0 and values == sorted(values) and values[-1] >= peak
    assert all(v == int(v) for v in values)
