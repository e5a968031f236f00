"""The delivery log page, as st.navigation runs it."""

from reports_app.console import current
from reports_app.views import delivery_log

db, me = current()
delivery_log.render(db, me)
