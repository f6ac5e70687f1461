"""The task inbox and the task page."""

from ..common import ui_blueprint

bp = ui_blueprint("inbox", __name__)

from . import routes  # noqa: E402,F401  (registers the views)
