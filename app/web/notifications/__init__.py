"""In-app notifications: the list, marking read, the unread badge and the user's settings."""

from ..common import ui_blueprint

bp = ui_blueprint("notices", __name__)  # "notifications" is the API blueprint

from . import routes  # noqa: E402,F401  (registers the views)
