"""Reports: the Streamlit app (HTTP 8501) and the scheduler of report exports (`python -m reports_app.scheduler`)."""
