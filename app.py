"""SHARe-KAN Studio: compress pre-trained KANs, see what changed, and watch detections live.

Run with ``make run`` (or ``streamlit run app.py``). Each page lives in pages/.
"""
import streamlit as st

st.set_page_config(page_title="SHARe-KAN Studio", page_icon="🧩", layout="wide")

PAGES = [
    st.Page("pages/1_model.py", title="Model", icon="📦", default=True),
    st.Page("pages/2_compress.py", title="Compress", icon="🗜️"),
    st.Page("pages/3_splines.py", title="Splines", icon="〰️"),
    st.Page("pages/4_detect.py", title="Detect", icon="🎯"),
    st.Page("pages/5_tradeoffs.py", title="Trade-offs", icon="📉"),
    st.Page("pages/6_runtime.py", title="Runtime", icon="⏱️"),
    st.Page("pages/7_scaling.py", title="Scaling", icon="📚"),
]

st.navigation(PAGES).run()
