"""Starting processes and the instance page."""

from ..common import ui_blueprint

bp = ui_blueprint("instances", __name__)

from . import routes  # noqa: E402,F401  (registers the views)
