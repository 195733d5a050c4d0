"""Runtime: latency of the dense against the compressed-domain head (eager and ExecuTorch .pte), file sizes, cache fit."""
import tempfile
from pathlib import Path

import altair as alt
import streamlit as st

from app_pages.common import measured, progress_reporter, require_model, require_run, session
from sharekan_core.studio.compression import bits_label
from sharekan_core.errors import SharekanError
from sharekan_core.studio import hosts, runtime
from sharekan_core.studio.jobs import OTHERS_RAN
from sharekan_core.studio.settings import settings as studio_settings

model = require_model()
st.title("Runtime")
run = require_run(model, "latency and file sizes")
st.caption(f"**{model.label}** compressed with K = {run.config.codebook_size:,}, {bits_label(run.config)}. Latency, "
           f"cache fit and energy below are measured or computed on this host ({hosts.this_host()}); the working-set "
           "curve is read from a saved run and says where it was taken.")

st.subheader("File sizes")
st.altair_chart(alt.Chart(runtime.file_sizes(run.result)).mark_bar().encode(
    x=alt.X("MB:Q", title="MB"), y=alt.Y("form:N", title=None), color=alt.Color("form:N", legend=None),
    tooltip=["form", alt.Tooltip("MB:Q", format=".4f")]).properties(height=120), width="stretch")

st.subheader("Eager latency")
batches = st.multiselect("Batch sizes", [1, 16, 256], default=[1, 16])
if (note := runtime.first_run_note()) is not None:
    st.info(note)
if st.button("Measure latency", type="primary"):
    bar = st.progress(0.0, text="warming up")
    session().latency[model.key] = measured(lambda: runtime.eager_latency(
        model.loaded.model, run.result, sorted(batches), progress=progress_reporter(bar)), bar)
    bar.empty()
timed = session().latency.get(model.key)
if timed is not None:
    latency = timed.value
    if timed.others_ran:  # under load the verdict can reverse: say so instead of stating it
        st.warning(OTHERS_RAN)
    else:
        for sentence in runtime.speed_sentences(latency):
            st.markdown(sentence)
    base = alt.Chart(latency).encode(x=alt.X("form:N", title=None, axis=alt.Axis(labels=False)),
                                     color=alt.Color("form:N", legend=alt.Legend(orient="bottom", labelLimit=400)))
    bars = base.mark_bar().encode(y=alt.Y("median ms:Q", title="median ms (whiskers: interquartile range)"),
                                  tooltip=["form", "batch", alt.Tooltip("median ms:Q", format=".3f"),
                                           alt.Tooltip("q1 ms:Q", format=".3f"), alt.Tooltip("q3 ms:Q", format=".3f")])
    whiskers = base.mark_rule(color="black").encode(y="q1 ms:Q", y2="q3 ms:Q")
    st.altair_chart(alt.layer(bars, whiskers).facet(column=alt.Column("batch:O", title="batch size")))
    st.dataframe(latency, hide_index=True)
    st.caption("Median and interquartile range of 15 calls per form, the two forms timed alternately after a "
               "warm-up, in this app's process on this host; the host's other work adds noise. Eager: the dense "
               "model in PyTorch against the compressed head's fused numba kernels. bench/runtime.py measures "
               "against the strongest dense baselines.")

st.subheader("ExecuTorch .pte")
xnnpack = st.checkbox("Lower to XNNPACK where it helps", value=True)
st.caption("Each program's forward takes any batch from 1 to 1,024 rows (a dynamic batch dimension).")
if st.button("Export both heads to .pte and run them"):
    bar = st.progress(0.0, text="importing ExecuTorch (takes a few seconds)")
    with tempfile.TemporaryDirectory(prefix="sharekan-pte-") as folder:
        try:
            session().programs[model.key] = measured(lambda: runtime.export_programs(
                model.loaded.model, run.result, Path(folder), xnnpack, progress_reporter(bar)), bar)
        except SharekanError as error:
            st.error(f"Export failed: {error}")
    bar.empty()
programs = session().programs.get(model.key)
if programs is not None:
    exported = programs.value
    left, right = st.columns(2)
    left.markdown("**.pte file sizes (MB)**")
    left.dataframe(exported.sizes, hide_index=True)
    right.markdown("**ExecuTorch latency, batch 1 (median ms, this host)**")
    right.dataframe(exported.latency, hide_index=True)
    st.markdown(hosts.EAGER_VS_PROGRAM)
    # A size holds whatever else ran; a speed verdict does not, so only it gives way to the note.
    speed = [OTHERS_RAN] if programs.others_ran else runtime.program_speed_warnings(exported)
    for warning in runtime.program_size_warnings(exported) + speed:
        st.warning(warning)
    st.download_button("Download the compressed .pte", exported.compressed_pte,
                       file_name=run.file_name.replace(".sharekan.safetensors", ".pte"),
                       mime="application/octet-stream")

st.subheader("Cache fit")
fit = runtime.cache_fit(run.result)
bars = alt.Chart(fit.working_sets).mark_bar().encode(  # bars start at 1 byte: a log axis has no zero
    x=alt.X("bytes:Q", scale=alt.Scale(type="log"), title="bytes (log scale)", axis=alt.Axis(format="~s")),
    x2=alt.datum(1),
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

st.subheader("Working set (measured, on the host named below)")
curve_document = runtime.saved_working_set(studio_settings().assets_dir)
if curve_document is None:
    st.caption("No saved curve; `python bench/working_set.py` measures one on this host and saves it under "
               "assets/runtime/.")
else:
    curve = runtime.working_set_frame(curve_document)
    axis = alt.X("edges:Q", scale=alt.Scale(type="log"), title="edges in the head (log scale)",
                 axis=alt.Axis(format="~s"))  # 200k, not 2e+5
    line = alt.Chart(curve).mark_line(point=True).encode(
        x=axis, y=alt.Y("median ms:Q", scale=alt.Scale(type="log"), title="median ms, batch 1 (log scale)"),
        color=alt.Color("form:N", legend=alt.Legend(orient="bottom", labelLimit=400)),
        tooltip=["edges", "form", alt.Tooltip("median ms:Q", format=".3f"), alt.Tooltip("bytes touched:Q", format=","),
                 "fits in"])
    band = alt.Chart(curve).mark_area(opacity=0.25).encode(x=axis, y="q1 ms:Q", y2="q3 ms:Q", color="form:N")
    st.altair_chart(alt.layer(band, line).properties(height=320), width="stretch")
    st.caption(f"Square one-layer heads with random codes (K = {curve_document['codebook_size']:,}, Int8); the "
               f"dense form is each head's own decompression. Band: interquartile range of "
               f"{curve_document['repeats']} interleaved samples, {curve_document['threads']} thread(s). "
               f"Compressed: {curve_document['compressed_form']}.")
    st.info(hosts.saved_host_words(curve_document["host"]))
    st.dataframe(curve, hide_index=True, width="stretch")

st.subheader("Energy per inference (an estimate)")
try:
    st.dataframe(runtime.energy_frame(run.result, batch=1), hide_index=True, width="stretch")
except SharekanError as error:  # counted for SHARe-KAN heads only
    st.info(str(error))
st.caption(f"An estimate, not a measurement: bytes each form touches in one batch-1 call, charged to the cache "
           f"level that holds them on this host, priced at 45 nm per-access energies, plus FP32 multiply-adds. "
           f"Source: {runtime.ENERGY_SOURCE}. The paper has no SRAM figure above 1 MB, so L3 reads are priced "
           f"at its 1 MB figure (a lower bound); DRAM spans its 1.3 to 2.6 nJ per 64-bit access.")
