"""Notebook widgets (ipywidgets 8) for runbooks: they compose the repositories, the
analysis and the charts, and hold no SQL of their own.

- :class:`ExecutionBrowser`: filter, page through executions, open one (details,
  tree, history, lifecycle timeline), and change its status from there.
- :class:`StatusUpdater`: one execution, only the moves the lifecycle allows, a
  confirmation step, compare-and-set on the status shown.
- :class:`BulkUpdater`: a filter, a preview, then exactly that preview applied (or a
  cancel as Attune's API does it).
- :class:`InquiryInbox`: pending inquiries, answered by option or by a form built
  from the inquiry's ``response_schema``.
- :class:`LiveMonitor`: changes as they happen (LISTEN/NOTIFY), with reconnect and
  backfill from the history.

Each shows itself when it is the last expression of a cell; ``.widget`` is the view,
and an :class:`~attune_nb.errors.AttuneNbError` shows in its status line.

>>> from attune_nb.widgets import StatusUpdater
>>> updater = StatusUpdater(db, 19999)     # the last expression of a cell shows it
>>> [choice.label for choice in updater.choices][:2]
['cancel → canceling', 'mark completed → completed']
"""

from __future__ import annotations

from attune_nb.widgets.browser import ExecutionBrowser
from attune_nb.widgets.bulk import BulkUpdater
from attune_nb.widgets.inbox import InquiryInbox
from attune_nb.widgets.monitor import LiveMonitor
from attune_nb.widgets.status import StatusUpdater

__all__ = ["BulkUpdater", "ExecutionBrowser", "InquiryInbox", "LiveMonitor", "StatusUpdater"]
