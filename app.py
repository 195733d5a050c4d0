"""SHARe-KAN Studio: compress pre-trained KANs, see what changed, and watch detections live.

Run with ``make run`` (or ``streamlit run app.py``). Each page lives in pages/. The page icon is a
local file: a ``:material/...:`` page icon makes the browser fetch it from an external font host.
"""
from pathlib import Path

import streamlit as st

ICON = Path(__file__).resolve().parent / "assets" / "icons" / "sharekan.png"

st.set_page_config(page_title="SHARe-KAN Studio", page_icon=str(ICON), layout="wide")

PAGES = [
    st.Page("pages/0_home.py", title="Start", icon=":material/home:", default=True),
    st.Page("pages/1_model.py", title="Model", icon=":material/inventory_2:"),
    st.Page("pages/2_compress.py", title="Compress", icon=":material/compress:"),
    st.Page("pages/3_splines.py", title="Splines", icon=":material/show_chart:"),
    st.Page("pages/4_detect.py", title="Detect", icon=":material/center_focus_strong:"),
    st.Page("pages/5_tradeoffs.py", title="Trade-offs", icon=":material/scatter_plot:"),
    st.Page("pages/6_runtime.py", title="Runtime", icon=":material/timer:"),
    st.Page("pages/7_scaling.py", title="Scaling", icon=":material/stacks:"),
]

st.navigation(PAGES).run()
