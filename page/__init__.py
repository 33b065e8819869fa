"""The page's parts, in Streamlit: ``streamlit_app.py`` lays them out. They only show what ``detector/``
computes; the library itself never imports Streamlit."""
