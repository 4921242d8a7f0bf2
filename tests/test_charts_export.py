"""Tests for attune_nb/charts/export.py: real PNG and SVG files through kaleido and Chromium."""

from __future__ import annotations

import struct
from pathlib import Path

import plotly.graph_objects as go
import pytest

from attune_nb.charts import to_png, to_svg
from attune_nb.errors import InvalidFilter


def _figure() -> go.Figure:
    return go.Figure(go.Bar(x=["a", "b"], y=[1, 2]), layout={"paper_bgcolor": "rgba(0,0,0,0)"})


def test_to_png_writes_a_png_of_the_asked_size(tmp_path: Path) -> None:
    fig = _figure()
    path = to_png(fig, tmp_path / "chart.png", width=400, height=300, scale=2)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (800, 600)
    assert fig.layout.paper_bgcolor == "rgba(0,0,0,0)"  # the figure itself is unchanged


def test_to_svg_writes_an_svg(tmp_path: Path) -> None:
    path = to_svg(_figure(), tmp_path / "chart.svg", width=400, height=300)
    text = path.read_text()
    assert text.startswith("<svg") and 'width="400"' in text and "</svg>" in text


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"width": 0}, "width"), ({"scale": 0}, "scale"), ({"height": True}, "height")],
    ids=["width", "scale", "height"],
)
def test_bad_sizes_are_refused(tmp_path: Path, kwargs: dict, name: str) -> None:
    with pytest.raises(InvalidFilter) as info:
        to_png(_figure(), tmp_path / "x.png", **kwargs)
    assert info.value.name == name


def test_a_missing_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidFilter) as info:
        to_png(_figure(), tmp_path / "nope" / "x.png")
    assert info.value.name == "path"


def test_show_in_notebooks_sets_the_plotly_renderer() -> None:
    import plotly.io as pio

    from attune_nb.charts import show_in_notebooks

    before = pio.renderers.default
    try:
        assert show_in_notebooks() == "plotly_mimetype+png" == pio.renderers.default
        assert show_in_notebooks(static=False) == "plotly_mimetype" == pio.renderers.default
        with pytest.raises(InvalidFilter) as info:
            show_in_notebooks(static="yes")  # type: ignore[arg-type]
        assert info.value.name == "static"
        assert pio.renderers.default == "plotly_mimetype"
    finally:
        pio.renderers.default = before
