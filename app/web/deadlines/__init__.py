"""Deadlines for supervisors: the overdue tasks in their zone."""

from ..common import ui_blueprint

bp = ui_blueprint("deadlines", __name__)

from . import routes  # noqa: E402,F401  (registers the views)
