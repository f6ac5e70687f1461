"""The auditor's workspace: the log with filters, instance timelines, integrity, exports."""

from ..common import ui_blueprint

bp = ui_blueprint("audit", __name__)
bp.url_prefix = "/audit"

from . import routes  # noqa: E402,F401  (registers the views)
