"""Start: what SHARe-KAN does, in three sentences, and three ways in."""
import streamlit as st

st.title("SHARe-KAN Studio")
st.markdown(
    "A Kolmogorov-Arnold Network stores a learned curve, a spline, on every edge, and large KANs hold "
    "hundreds of thousands of them. SHARe-KAN splits each spline into a bias, a gain and a unit shape, and "
    "lets all edges share a small codebook of shapes, so each edge keeps only an index and two small numbers. "
    "The compressed file runs without rebuilding the dense model, and this studio measures how much smaller it "
    "is and what that costs in accuracy, on your model or on the shipped ones.")

left, middle, right = st.columns(3)
with left.container(border=True):
    st.subheader("Compress your KAN")
    st.markdown("Upload a checkpoint (this project's format, efficient-kan or pykan), pick a codebook size, "
                "and compare size, errors and task quality run by run.")
    st.page_link("app_pages/model.py", label="Choose or upload a model", icon=":material/upload_file:")
with middle.container(border=True):
    st.subheader("Learn how spline VQ works")
    st.markdown("Follow one edge from its original spline through bias, unit shape and codeword to the "
                "error that compression leaves.")
    st.page_link("app_pages/splines.py", label="Open the Splines page", icon=":material/show_chart:")
with right.container(border=True):
    st.subheader("Demo detections")
    st.markdown("Run a real SSD-MobileNetV2 with a KAN detection head on photos, the dense head beside the "
                "compressed one.")
    st.page_link("app_pages/detect.py", label="Open the Detect page", icon=":material/center_focus_strong:")
