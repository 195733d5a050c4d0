"""Scaling: storage of N task heads, 1 to 50, as N dense heads against heads sharing one codebook."""
import altair as alt
import streamlit as st

from pages.common import require_model, require_run
from sharekan_core.studio.compression import bits_label
from sharekan_core.studio import scaling
from sharekan_core.studio.models import format_bytes

model = require_model()
st.title("Scaling")
st.caption("N task heads of this architecture: each dense head stores all its coefficients; with SHARe-KAN the "
           "codebooks are stored once and each head adds only its indices, gains, biases and base weights.")
if not scaling.scaling_available():
    st.info("The multi-head accounting (sharekan_core.experiments) is not available yet.")
    st.stop()
run = require_run(model, "how storage grows with the number of heads")
costs = scaling.head_costs(run.result)
cols = st.columns(3)
cols[0].metric("One dense head", format_bytes(costs["dense_per_head"]))
cols[1].metric("Shared codebooks (paid once)", format_bytes(costs["shared_once"]))
cols[2].metric("Each further head", format_bytes(costs["per_head"]))

curve = scaling.scaling_frame(run.result, max_heads=50)
chart = alt.Chart(curve).mark_line(point=alt.OverlayMarkDef(size=20)).encode(
    x=alt.X("heads:Q", title="number of heads N"),
    y=alt.Y("MB:Q", scale=alt.Scale(type="log"), title="total storage (MB, log scale)"),
    color=alt.Color("form:N", title=None, legend=alt.Legend(orient="bottom")),
    tooltip=["heads", "form", alt.Tooltip("MB:Q", format=".3f")])
at_fifty = curve[curve["heads"] == 50].set_index("form")["MB"]
st.altair_chart(chart.properties(height=380), width="stretch")
st.markdown(f"At **N = 50** for this model: dense **{at_fifty[scaling.FORMS['dense_bytes']]:.2f} MB** against "
            f"**{at_fifty[scaling.FORMS['shared_codebook_bytes']]:.2f} MB** with one shared codebook (K = "
            f"{run.config.codebook_size:,}, {bits_label(run.config)}).")

st.subheader("From the paper (not measured here)")
paper = alt.Chart(scaling.paper_frame()).mark_bar().encode(
    x=alt.X("MB:Q", scale=alt.Scale(type="log"), title="MB (log scale)"), y=alt.Y("form:N", title=None),
    color=alt.Color("form:N", legend=None), tooltip=["form", "MB"])
st.altair_chart(paper.properties(height=120), width="stretch")
st.caption("SHARe-KAN (arXiv 2512.15742): 50 detection heads take 2.9 GB dense against 211 MB with a shared "
           "codebook. Shown for reference only.")
