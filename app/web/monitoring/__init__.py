"""«Мониторинг»: the state of the procedures per municipality and school, charts, exports."""

from ..common import ui_blueprint

bp = ui_blueprint("monitoring", __name__)
bp.url_prefix = "/monitoring"

from . import routes  # noqa: E402,F401  (registers the views)
