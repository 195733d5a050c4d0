"""Compress: choose K, bit-widths, scope and seed; run SHARe-KAN live; see storage, ratio and fidelity."""
import altair as alt
import streamlit as st

from pages.common import latest_run, progress_reporter, remember_run, require_model
from sharekan_core.compress import CompressionConfig
from sharekan_core.errors import SharekanError
from sharekan_core.studio.compression import (BIT_CHOICES, bits_label, codebook_notes, codebook_size_choices,
                                              default_codebook_size, dense_vs_compressed_frame, headline,
                                              layer_fidelity_frame, run_compression, storage_frame, width_name)
from sharekan_core.studio.models import format_bytes

model = require_model()
edges = model.loaded.model.num_edges
st.title("Compress")
st.caption(f"**{model.label}** · {edges:,} edges. Each edge keeps a codebook index, a gain and a bias; "
           "the spline shapes are shared through the codebook.")

with st.form("compress"):
    codebook_size = st.select_slider("Codebook size K (shapes per codebook)", codebook_size_choices(edges),
                                     value=default_codebook_size(edges))
    bits = st.selectbox("Bit-width of every stored component", BIT_CHOICES, index=BIT_CHOICES.index(8),
                        format_func=width_name)
    with st.expander("Advanced: per-component bit-widths, scope, seed"):
        same = "same as above"
        per_component = {name: st.selectbox(label, (same, *BIT_CHOICES), key=f"bits_{name}",
                                            format_func=lambda b: b if b == same else width_name(b))
                         for name, label in (("codebook_bits", "Codebook"), ("gain_bits", "Gains"),
                                             ("bias_bits", "Biases"), ("base_bits", "Base weights"))}
        scope = st.radio("Codebook scope", ("layer", "global"), horizontal=True,
                         format_func={"layer": "one per layer", "global": "one shared by all layers"}.get)
        seed = st.number_input("Seed", min_value=0, max_value=2**31 - 1, value=0, step=1)
    submitted = st.form_submit_button("Compress", type="primary")

if submitted:
    overrides = {name: value for name, value in per_component.items() if value != same}
    bar = st.progress(0.0, text="starting")
    try:
        config = CompressionConfig(codebook_size=codebook_size, bits=bits, scope=scope, seed=int(seed), **overrides)
        remember_run(run_compression(model.loaded.model, model.key, model.label, config, progress_reporter(bar),
                                     metadata=model.loaded.metadata))
    except SharekanError as error:
        st.error(f"Compression failed: {error}")
    bar.empty()

run = latest_run(model)
if run is None:
    st.info("Pick a K and press **Compress**. Small K compresses more; larger K keeps more shapes.")
    st.stop()

numbers = headline(run)
st.subheader(f"Result: K = {run.config.codebook_size:,}, {bits_label(run.config)}, "
             f"{run.config.scope} codebooks, seed {run.config.seed}")
for note in codebook_notes(run):
    st.info(note)
cols = st.columns(5)
cols[0].metric("Dense FP32", format_bytes(numbers["dense_bytes"]))
cols[1].metric("Compressed tensors", format_bytes(numbers["compressed_bytes"]))
cols[2].metric("Ratio", f"{numbers['ratio']:.2f}×")
cols[3].metric("Coefficient rel. L2 error", f"{numbers['coef_rel_l2']:.4f}")
cols[4].metric("Spline function rel. RMS error", f"{numbers['function_rel_rms']:.4f}")
st.caption(f"File on disk: {format_bytes(numbers['file_bytes'])} (tensors plus the JSON header). "
           f"Compressed in {numbers['seconds']:.2f} s.")

left, right = st.columns(2)
with left:
    st.markdown("**Compressed bytes per component and layer**")
    st.altair_chart(alt.Chart(storage_frame(run)).mark_bar().encode(
        x=alt.X("bytes:Q", title="bytes"), y=alt.Y("layer:N", title=None),
        color=alt.Color("component:N"), tooltip=["layer", "component", alt.Tooltip("bytes:Q", format=",")]),
        width="stretch")
with right:
    st.markdown("**Dense against compressed, per layer**")
    st.altair_chart(alt.Chart(dense_vs_compressed_frame(run)).mark_bar().encode(
        x=alt.X("bytes:Q", title="bytes"), y=alt.Y("layer:N", title=None), yOffset="form:N",
        color=alt.Color("form:N", title=None), tooltip=["layer", "form", alt.Tooltip("bytes:Q", format=",")]),
        width="stretch")

st.markdown("**Fidelity per layer**")
st.dataframe(layer_fidelity_frame(run), hide_index=True, width="stretch")
st.download_button("Download the compressed file", run.result.encoded, file_name=run.file_name,
                   mime="application/octet-stream", type="primary")
