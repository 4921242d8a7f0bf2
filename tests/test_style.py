"""Tests for attune_nb/style.py: one colour per status, used by every view."""

from __future__ import annotations

import re

import pytest

from attune_nb import Execution, ExecutionNode, ExecutionStatus, InvalidStatus
from attune_nb.style import STATUS_COLOURS, status_colour


def test_every_status_has_its_own_colour_in_lifecycle_order() -> None:
    assert list(STATUS_COLOURS) == list(ExecutionStatus)
    assert len(set(STATUS_COLOURS.values())) == len(ExecutionStatus)
    assert all(re.fullmatch(r"#[0-9a-f]{6}", c) for c in STATUS_COLOURS.values())


def test_the_map_cannot_be_changed_by_accident() -> None:
    with pytest.raises(TypeError):
        STATUS_COLOURS[ExecutionStatus.FAILED] = "#000000"  # type: ignore[index]


@pytest.mark.parametrize("status", list(ExecutionStatus), ids=str)
def test_status_colour_takes_a_name_or_a_status(status: ExecutionStatus) -> None:
    assert status_colour(status.value) == status_colour(status) == STATUS_COLOURS[status]


def test_status_colour_refuses_an_unknown_status() -> None:
    with pytest.raises(InvalidStatus):
        status_colour("finished")


def test_the_tree_html_uses_the_map() -> None:
    root = ExecutionNode(
        Execution(1, "ops.root", ExecutionStatus.RUNNING),
        children=[ExecutionNode(Execution(2, "ops.child", ExecutionStatus.TIMEOUT), depth=1)],
    )
    html = root._repr_html_()
    assert f"color:{STATUS_COLOURS[ExecutionStatus.RUNNING]}" in html
    assert f"color:{STATUS_COLOURS[ExecutionStatus.TIMEOUT]}" in html
