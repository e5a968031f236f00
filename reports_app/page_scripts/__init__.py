"""One small script per page: st.navigation runs them after the entry script checked the session."""
