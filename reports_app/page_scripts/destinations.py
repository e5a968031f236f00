"""The destinations page, as st.navigation runs it."""

from reports_app.console import current
from reports_app.views import destinations

db, me = current()
destinations.render(db, me)
