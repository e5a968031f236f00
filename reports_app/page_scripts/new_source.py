"""The new source page, as st.navigation runs it (a file, so a test can open it by path)."""

from reports_app.console import current
from reports_app.views import new_source

new_source.render(*current())
