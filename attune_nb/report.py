"""The HTML report of a notebook run: one page per notebook and an ``index.html``.

Readable without a kernel or a network: nbconvert's ``lab`` template without the
scripts it loads from CDNs (require.js, MathJax, mermaid, the widget manager),
charts as their embedded static PNG (never plotly.js), widgets as a short note.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attune_nb.errors import ConfigurationError

if TYPE_CHECKING:
    from attune_nb.runner import NotebookRun

__all__ = ["INDEX", "WIDGET_NOTE", "describe", "write_index", "write_page"]

INDEX = "index.html"
WIDGET_NOTE = "(interactive widget: open the notebook in JupyterLab to use it)"

_WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
_PLOTLY = "application/vnd.plotly.v1+json"

_CSS = """
.attune-report { font-family: system-ui, sans-serif; font-size: 14px; line-height: 1.45;
  color: #1f2328; }
.attune-report table { border-collapse: collapse; margin: 0.5em 0 1em; }
.attune-report th, .attune-report td { border: 1px solid #d0d7de; padding: 4px 8px;
  text-align: left; vertical-align: top; }
.attune-report th { background: #f6f8fa; }
.attune-report code { font-family: ui-monospace, monospace; font-size: 90%; }
.attune-report .ok { color: #1a7f37; font-weight: 600; }
.attune-report .failed { color: #cf222e; font-weight: 600; }
.attune-report li.given, .attune-report tr.given td:nth-child(2) { font-weight: 600; }
.attune-report .muted { color: #59636e; }
.attune-report ul { margin: 0; padding-left: 1.2em; }
header.attune-report { max-width: 1200px; margin: 0 auto 1em; padding: 1em;
  border-bottom: 1px solid #d0d7de; }
"""

# nbconvert's lab page minus every resource it would fetch from a CDN; images get the
# alt text set by _for_page (else nbconvert supplies a placeholder and a warning).
_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block extra_css -%}<style type="text/css">{{ resources.attune_css }}</style>
{%- endblock extra_css -%}
{%- block body_header -%}{{ super() }}
{{ resources.attune_header }}
{%- endblock body_header -%}
{%- block data_png scoped -%}
<div class="jp-RenderedImage jp-OutputArea-output {{ extra_class }}">
<img src="data:image/png;base64,{{ output.data['image/png'] | escape_html }}"
alt="{{ output.metadata.get('attune_alt', 'image') | escape_html }}">
</div>
{%- endblock data_png -%}
"""
_TEMPLATE_NAME = "attune_report.html.j2"


def describe(notebook: Any) -> tuple[str | None, str]:
    """A notebook's title (its first heading) and description (first sentence after it).

    >>> import nbformat
    >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(
    ...     "# Runbook: stuck executions\\n\\nFinds them. Then fixes them.")])
    >>> describe(nb)
    ('Runbook: stuck executions', 'Finds them.')
    """
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            continue
        lines = cell.source.splitlines()
        heading = next((i for i, line in enumerate(lines) if line.startswith("#")), None)
        if heading is None:
            continue
        title = lines[heading].lstrip("#").strip()
        paragraph: list[str] = []
        for line in lines[heading + 1 :]:
            if not line.strip():
                if paragraph:
                    break
                continue
            if line.startswith(("#", "* ", "- ", ">", "|", "```")):  # not a paragraph
                break
            paragraph.append(line.strip())
        text = " ".join(paragraph)
        return title, re.split(r"(?<=[.!?])\s+(?=[A-Z`])", text, maxsplit=1)[0]
    return None, ""


def _inline(text: str) -> str:
    """Markdown's code spans and bold in one line of text, the rest escaped."""
    out = html.escape(text, quote=False)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    out = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)
    return re.sub(r"\*([^*\s][^*]*)\*", r"<em>\1</em>", out)


def _value(value: Any) -> str:
    """A parameter's value as the injected cell writes it."""
    from papermill.translators import PythonTranslator

    return str(PythonTranslator.translate(value))


def _status(run: NotebookRun) -> str:
    if run.error is None:
        return '<span class="ok">ok</span>'
    cell = f" in cell {run.error.cell_index}" if run.error.cell_index is not None else ""
    return (
        f'<span class="failed">failed</span>{cell}: '
        f"<code>{html.escape(f'{run.error.ename}: {run.error.evalue}')}</code>"
    )


def _parameters_table(run: NotebookRun) -> str:
    if not run.declared:
        return '<p class="muted">no parameters cell</p>'
    rows = []
    for p in run.declared:
        if p.name in run.parameters:
            value = f"<code>{html.escape(_value(run.parameters[p.name]))}</code>"
            value += f" (given; default <code>{html.escape(p.default)}</code>)"
        else:
            value = f'<code>{html.escape(p.default)}</code> <span class="muted">(default)</span>'
        mark = ' class="given"' if p.name in run.parameters else ""
        rows.append(
            f"<tr{mark}>"
            f"<td><code>{html.escape(p.name)}</code></td><td>{value}</td>"
            f"<td>{_inline(p.help)}</td></tr>"
        )
    return (
        "<table><tr><th>parameter</th><th>value used</th><th>meaning</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _parameters_list(run: NotebookRun) -> str:
    items = []
    for p in run.declared:
        if p.name in run.parameters:
            value = _value(run.parameters[p.name])
            items.append(
                f'<li class="given"><code>{html.escape(p.name)} = {html.escape(value)}</code> '
                "(given)</li>"
            )
        else:
            items.append(
                f'<li class="muted"><code>{html.escape(p.name)} = {html.escape(p.default)}</code>'
                "</li>"
            )
    return "<ul>" + "".join(items) + "</ul>" if items else '<span class="muted">none</span>'


def _for_page(notebook: Any) -> Any:
    """A copy of the notebook as the page shows it: widgets as a note, charts with alt text."""
    import copy

    page = copy.deepcopy(notebook)
    page.metadata.pop("widgets", None)  # no widget manager loads in the page
    for cell in page.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if _WIDGET_VIEW in data:
                note = f'<p class="attune-widget"><em>{html.escape(WIDGET_NOTE)}</em></p>'
                out["data"] = {"text/html": note, "text/plain": WIDGET_NOTE}
            elif "image/png" in data:
                out.setdefault("metadata", {})["attune_alt"] = _chart_title(data.get(_PLOTLY))
    return page


def _chart_title(figure: Any) -> str:
    """The title of a plotly figure's JSON (the alt text of its PNG), else "chart"."""
    title = figure.get("layout", {}).get("title") if isinstance(figure, dict) else None
    if isinstance(title, dict):
        title = title.get("text")
    if not isinstance(title, str) or not title.strip():
        return "chart" if figure is not None else "image"
    return re.sub(r"<[^>]+>", " ", title).strip()


def write_page(notebook: Any, run: NotebookRun) -> Path:
    """Write ``run.html``: the executed notebook, its status and parameters at the top."""
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    if run.html is None:
        raise ConfigurationError("html", None, "the path of the page: a run with an output folder")
    title, _ = describe(notebook)
    header = (
        '<header class="attune-report">'
        f'<p><a href="{INDEX}">&larr; all notebooks</a> &middot; '
        f"<code>{html.escape(run.notebook.name)}</code></p>"
        f"<p>{_status(run)} &middot; {run.seconds:.1f} s</p>"
        f"{_parameters_table(run)}</header>"
    )
    exporter = HTMLExporter(
        template_name="lab",
        template_file=_TEMPLATE_NAME,
        extra_loaders=[DictLoader({_TEMPLATE_NAME: _TEMPLATE})],
        embed_images=True,  # images of markdown cells as data URIs too
    )
    body, _resources = exporter.from_notebook_node(
        _for_page(notebook),
        resources={
            "metadata": {"name": title or run.notebook.stem, "path": str(run.notebook.parent)},
            "attune_header": header,
            "attune_css": _CSS,
        },
    )
    run.html.write_text(body, encoding="utf-8")
    return run.html


def write_index(
    runs: Sequence[NotebookRun],
    output: Path,
    *,
    parameters: Mapping[str, Any],
    url: str | None = None,
    started: float | None = None,
) -> Path:
    """Write ``<output>/index.html``: every notebook run, its status, time and parameters."""
    from attune_nb.engine import mask_url

    when = dt.datetime.fromtimestamp(started, dt.UTC) if started else dt.datetime.now(dt.UTC)
    failed = sum(not run.ok for run in runs)
    given = (
        ", ".join(
            f"<code>{html.escape(k)} = {html.escape(_value(v))}</code>"
            for k, v in parameters.items()
        )
        if parameters
        else "none (every notebook with its defaults)"
    )
    facts = [
        f"Run {when:%Y-%m-%d %H:%M} UTC: {len(runs) - failed} ok, {failed} failed.",
        f"Database: <code>{html.escape(mask_url(url))}</code>." if url else "",
        f"Parameters given: {given}.",
    ]
    rows = "".join(_index_row(run) for run in runs)
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>Attune notebooks: report</title>
<style type="text/css">{_CSS}
body {{ margin: 2em auto; max-width: 1200px; padding: 0 1em; }}
</style>
</head>
<body class="attune-report">
<h1>Attune notebooks: report</h1>
{"".join(f"<p>{fact}</p>" for fact in facts if fact)}
<table>
<tr><th>notebook</th><th>status</th><th>time</th><th>parameters</th></tr>
{rows}
</table>
<p class="muted">Each page shows a notebook as it ran, charts as static images. To change
and run one again, open it in JupyterLab (<code>attune-nb demo</code>).</p>
</body>
</html>
"""
    index = output / INDEX
    index.write_text(page, encoding="utf-8")
    return index


def _index_row(run: NotebookRun) -> str:
    import nbformat

    source = run.executed if run.executed is not None and run.executed.exists() else run.notebook
    title, description = describe(nbformat.read(source, as_version=4))
    name = html.escape(title or run.notebook.stem)
    link = f'<a href="{html.escape(run.html.name)}">{name}</a>' if run.html else name
    return (
        f"<tr><td>{link}<br><code class=muted>{html.escape(run.notebook.name)}</code>"
        f"{f'<br>{_inline(description)}' if description else ''}</td>"
        f"<td>{_status(run)}</td><td>{run.seconds:.1f}&nbsp;s</td>"
        f"<td>{_parameters_list(run)}</td></tr>\n"
    )
