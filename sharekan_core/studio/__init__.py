"""View-model helpers for the Streamlit studio: catalogues, tables, chart frames, session containers.

Nothing here imports Streamlit; the pages in ``app_pages/`` call these and draw the results.
"""
