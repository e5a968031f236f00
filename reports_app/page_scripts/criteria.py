"""The acceptance-criteria page, as st.navigation runs it."""

from reports_app.console import current
from reports_app.views import criteria

db, me = current()
criteria.render(db, me)
