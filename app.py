"""SHARe-KAN Studio: compress pre-trained KANs, see what changed, and watch detections live.

Run with ``make run`` (or ``streamlit run app.py``). This file is the frame: st.navigation runs one of the page
scripts in app_pages/ (plain names, no number prefixes). The page icon is a local file: a ``:material/...:``
page icon makes the browser fetch it from an external font host.
"""
from pathlib import Path

import streamlit as st

from app_pages.common import run_page

ICON = Path(__file__).resolve().parent / "assets" / "icons" / "sharekan.png"

st.set_page_config(page_title="SHARe-KAN Studio", page_icon=str(ICON), layout="wide")

PAGES = [
    st.Page("app_pages/home.py", title="Start", icon=":material/home:", default=True),
    st.Page("app_pages/model.py", title="Model", icon=":material/inventory_2:"),
    st.Page("app_pages/compress.py", title="Compress", icon=":material/compress:"),
    st.Page("app_pages/splines.py", title="Splines", icon=":material/show_chart:"),
    st.Page("app_pages/detect.py", title="Detect", icon=":material/center_focus_strong:"),
    st.Page("app_pages/tradeoffs.py", title="Trade-offs", icon=":material/scatter_plot:"),
    st.Page("app_pages/runtime.py", title="Runtime", icon=":material/timer:"),
    st.Page("app_pages/scaling.py", title="Scaling", icon=":material/stacks:"),
]

run_page(st.navigation(PAGES))
