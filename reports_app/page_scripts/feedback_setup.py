"""The lifecycle feedback set-up page, as st.navigation runs it."""

from reports_app.console import current
from reports_app.views import feedback_setup

db, me = current()
feedback_setup.render(db, me)
