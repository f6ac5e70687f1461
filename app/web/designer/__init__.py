"""The process designer: workspace, upload with the validation report, modeler, form editor."""

from ..common import ui_blueprint

bp = ui_blueprint("designer", __name__)
bp.url_prefix = "/designer"

from . import routes  # noqa: E402,F401  (registers the views)
