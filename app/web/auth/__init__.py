"""Login, logout and the language switch."""

from ..common import ui_blueprint

bp = ui_blueprint("auth", __name__)

from . import routes  # noqa: E402,F401  (registers the views)
