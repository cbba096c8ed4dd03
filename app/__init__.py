"""The Streamlit dashboard: pages read widgets, call ``engine.api``, and render."""
