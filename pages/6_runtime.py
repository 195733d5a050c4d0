"""Runtime: latency of the dense against the compressed-domain head (eager and ExecuTorch .pte), file sizes, cache fit."""
import tempfile
from pathlib import Path

import altair as alt
import streamlit as st

from pages.common import progress_reporter, require_model, require_run
from sharekan_core.studio.compression import bits_label
from sharekan_core.errors import SharekanError
from sharekan_core.studio import runtime

model = require_model()
st.title("Runtime")
run = require_run(model, "latency and file sizes")
st.caption(f"**{model.label}** compressed with K = {run.config.codebook_size:,}, {bits_label(run.config)}.")

st.subheader("File sizes")
st.altair_chart(alt.Chart(runtime.file_sizes(run.result)).mark_bar().encode(
    x=alt.X("MB:Q", title="MB"), y=alt.Y("form:N", title=None), color=alt.Color("form:N", legend=None),
    tooltip=["form", alt.Tooltip("MB:Q", format=".4f")]).properties(height=120), width="stretch")

st.subheader("Eager latency")
batches = st.multiselect("Batch sizes", [1, 16, 256], default=[1, 16])
if st.button("Measure latency", type="primary"):
    bar = st.progress(0.0, text="warming up")
    st.session_state.setdefault("latency", {})[model.key] = runtime.eager_latency(
        model.loaded.model, run.result, sorted(batches), progress=progress_reporter(bar))
    bar.empty()
latency = st.session_state.get("latency", {}).get(model.key)
if latency is not None:
    st.altair_chart(alt.Chart(latency).mark_bar().encode(
        x=alt.X("form:N", title=None, axis=alt.Axis(labels=False)), y=alt.Y("ms:Q", title="median ms"),
        color="form:N", column=alt.Column("batch:O", title="batch size"),
        tooltip=["form", "batch", alt.Tooltip("ms:Q", format=".2f"), alt.Tooltip("speed-up vs dense:Q", format=".2f")]))
    st.dataframe(latency, hide_index=True)
    st.caption("Median of 5 calls after a warm-up, in this app's process; the host's other work adds noise.")

st.subheader("ExecuTorch .pte")
xnnpack = st.checkbox("Lower to XNNPACK where it helps", value=True)
if st.button("Export both heads to .pte and run them"):
    bar = st.progress(0.0, text="importing ExecuTorch (takes a few seconds)")
    with tempfile.TemporaryDirectory(prefix="sharekan-pte-") as folder:
        try:
            st.session_state.setdefault("pte", {})[model.key] = runtime.export_programs(
                model.loaded.model, run.result, Path(folder), xnnpack, progress_reporter(bar))
        except SharekanError as error:
            st.error(f"Export failed: {error}")
    bar.empty()
exported = st.session_state.get("pte", {}).get(model.key)
if exported is not None:
    left, right = st.columns(2)
    left.markdown("**.pte file sizes (MB)**")
    left.dataframe(exported.sizes, hide_index=True)
    right.markdown("**ExecuTorch latency, batch 1 (median ms)**")
    right.dataframe(exported.latency, hide_index=True)
    st.download_button("Download the compressed .pte", exported.compressed_pte,
                       file_name=run.file_name.replace(".sharekan.safetensors", ".pte"),
                       mime="application/octet-stream")

st.subheader("Cache fit")
fit = runtime.cache_fit(run.result)
bars = alt.Chart(fit.working_sets).mark_bar().encode(  # bars start at 1 byte: a log axis has no zero
    x=alt.X("bytes:Q", scale=alt.Scale(type="log"), title="bytes (log scale)"), x2=alt.datum(1),
    y=alt.Y("working set:N", sort=None, title=None, axis=alt.Axis(labelLimit=360)),
    color=alt.Color("fits in (this host):N"),
    tooltip=["working set", alt.Tooltip("bytes:Q", format=","), "fits in (this host)"])
rules = alt.Chart(fit.host_caches).mark_rule(strokeDash=[4, 3], color="black").encode(x="bytes:Q")
labels = alt.Chart(fit.host_caches).mark_text(align="left", dx=3, dy=-6, baseline="bottom").encode(
    x="bytes:Q", y=alt.value(0), text="cache:N")
st.altair_chart(alt.layer(bars, rules, labels).properties(height=320), width="stretch")
st.caption("Dashed lines: this host's caches (CPU 0, from sysfs). Colour: the smallest level each working "
           "set fits in.")
st.markdown("**Against the published L2 of named parts**")
st.dataframe(fit.parts, hide_index=True, width="stretch",
             column_config={"source": st.column_config.LinkColumn("source")})
