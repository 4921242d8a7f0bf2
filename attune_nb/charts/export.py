"""Static export of a figure to PNG or SVG, with kaleido driving the system's Chromium.

Nothing downloads a browser: kaleido finds an installed Chromium (Debian's
``/usr/bin/chromium`` is named to it through ``BROWSER_PATH`` when that is unset).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import plotly.graph_objects as go

import attune_nb.charts._layout as L
from attune_nb.errors import ConfigurationError, InvalidFilter

__all__ = ["show_in_notebooks", "to_png", "to_svg"]

_CHROMIUMS = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
_BACKGROUND = "#ffffff"


def to_png(
    fig: go.Figure,
    path: str | os.PathLike[str],
    *,
    width: int = 1100,
    height: int | None = None,
    scale: float = 1.0,
    background: str | None = _BACKGROUND,
) -> Path:
    """Write ``fig`` as a PNG file and return its path.

    ``height`` defaults to the figure's own (else 600); ``background`` fills the
    theme's transparent background (``None`` keeps it transparent). The figure
    itself is not changed.
    """
    return _write(fig, path, "png", width=width, height=height, scale=scale, background=background)


def to_svg(
    fig: go.Figure,
    path: str | os.PathLike[str],
    *,
    width: int = 1100,
    height: int | None = None,
    background: str | None = _BACKGROUND,
) -> Path:
    """Write ``fig`` as an SVG file and return its path (see :func:`to_png`)."""
    return _write(fig, path, "svg", width=width, height=height, scale=1.0, background=background)


def show_in_notebooks(*, static: bool = True) -> str:
    """Make a notebook show figures as plotly JSON (interactive in JupyterLab and VS
    Code), plus a static PNG where ``static`` (what a code host shows, which cannot run
    plotly.js). No plotly.js is embedded, so a stored notebook stays small.

    Returns the renderer set: ``"plotly_mimetype+png"`` or ``"plotly_mimetype"``.

    >>> from attune_nb import charts
    >>> charts.show_in_notebooks()        # in a notebook's setup cell
    'plotly_mimetype+png'
    """
    import plotly.io as pio

    if not isinstance(static, bool):
        raise InvalidFilter("static", static, "True or False")
    if static:
        _find_browser()
    pio.renderers.default = "plotly_mimetype+png" if static else "plotly_mimetype"
    return str(pio.renderers.default)


def _write(
    fig: go.Figure,
    path: str | os.PathLike[str],
    fmt: str,
    *,
    width: int,
    height: int | None,
    scale: float,
    background: str | None,
) -> Path:
    if not isinstance(fig, go.Figure):
        raise InvalidFilter("fig", type(fig).__name__, "a plotly.graph_objects.Figure")
    width = L.require_count("width", width, minimum=10)
    if height is None:
        height = int(fig.layout.height) if fig.layout.height else 600
    height = L.require_count("height", height, minimum=10)
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0 < scale <= 10:
        raise InvalidFilter("scale", scale, "a number above 0 and at most 10")
    out = Path(path)
    if not out.parent.is_dir():
        raise InvalidFilter("path", str(out), "a file in an existing directory")
    copy = go.Figure(fig)
    if background is not None:
        copy.update_layout(paper_bgcolor=background)
    _find_browser()
    data = copy.to_image(format=fmt, width=width, height=height, scale=scale)
    out.write_bytes(data)
    return out


def _find_browser() -> None:
    # kaleido (choreographer) honours BROWSER_PATH before searching PATH.
    if os.environ.get("BROWSER_PATH"):
        return
    for candidate in _CHROMIUMS:
        if os.access(candidate, os.X_OK):
            os.environ["BROWSER_PATH"] = candidate
            return
    if not any(shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome")):
        raise ConfigurationError(
            "browser",
            None,
            "static export needs Chromium: `apt-get install -y chromium`, or set BROWSER_PATH",
        )
