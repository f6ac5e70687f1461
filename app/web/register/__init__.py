"""The municipal register of methodists (members of the ММА) as a page and a CSV download."""

from ..common import ui_blueprint

bp = ui_blueprint("mma_register", __name__)
bp.url_prefix = "/register"

from . import routes  # noqa: E402,F401  (registers the views)
