"""Administration: org tree, users, role grants, substitutions, CSV import."""

from ..common import ui_blueprint

bp = ui_blueprint("admin", __name__)
bp.url_prefix = "/admin"

from . import routes  # noqa: E402,F401  (registers the views)
