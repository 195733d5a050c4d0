"""Compress: choose K, bit-widths, scope and seed; run SHARe-KAN live; see storage, ratio, fidelity and task
quality beside the dense model's; keep every run in a history to compare."""
from dataclasses import replace

import altair as alt
import streamlit as st

from app_pages.common import (evaluation_set, heavy_job, kept_widget, latest_run, progress_reporter, remember_run,
                              require_model, run_history, session, set_widget_value, shared_job, show_error,
                              stop_page, widget_value)
from sharekan_core.compression import CompressionConfig
from sharekan_core.format.accounting import COMPONENTS
from sharekan_core.studio.compression import (BIT_CHOICES, COMPONENT_WIDTHS, DEFAULTS, MAX_SEED, SCOPE_CHOICES,
                                              bits_label, codebook_notes, codebook_size_choices, default_codebook_size,
                                              dense_vs_compressed_frame, fidelity_words, headline, layer_fidelity_frame,
                                              measure_run, predicted_bytes, ratio_words, run_compression, size_warning,
                                              storage_frame, width_name)
from sharekan_core.studio.evaluation import measure_description
from sharekan_core.studio.history import comparison_frame, history_csv, history_frame
from sharekan_core.studio.models import format_bytes, model_summary

model = require_model()
kan = model.loaded.model
edges = kan.num_edges
st.title("Compress")
st.caption(f"**{model.label}** · {edges:,} edges. Each edge keeps a codebook index, a gain and a bias; "
           "the spline shapes are shared through the codebook.")

codebook_size = kept_widget(st.select_slider, "codebook_size", model.key, "Codebook size K (shapes per codebook)",
                            codebook_size_choices(edges), value=default_codebook_size(edges),
                            format_func=lambda size: f"{size:,}")
bits = kept_widget(st.selectbox, "bits", model.key, "Bit-width of every stored component", BIT_CHOICES,
                   index=BIT_CHOICES.index(DEFAULTS.bits), format_func=width_name)
with st.expander("Advanced: per-layer and per-component bit-widths, scope, seed"):
    same = "same as above"
    per_layer = [kept_widget(st.selectbox, f"layer_bits_{index}", model.key,
                             f"Layer {index} ({layer.in_features} → {layer.out_features})", (same, *BIT_CHOICES),
                             format_func=lambda b: b if b == same else width_name(b))
                 for index, layer in enumerate(kan.layers)]
    per_component = {name: kept_widget(st.selectbox, f"bits_{name}", model.key, label, (same, *BIT_CHOICES),
                                       format_func=lambda b: b if b == same else width_name(b))
                     for name, label in COMPONENT_WIDTHS.items()}
    scope = kept_widget(st.radio, "scope", model.key, "Codebook scope", SCOPE_CHOICES, horizontal=True,
                        index=SCOPE_CHOICES.index(DEFAULTS.scope),
                        format_func={"layer": "one per layer", "global": "one shared by all layers"}.get)
    seed = kept_widget(st.number_input, "seed", model.key, "Seed", min_value=0, max_value=MAX_SEED, value=DEFAULTS.seed,
                       step=1)
overrides = {name: value for name, value in per_component.items() if value != same}
if any(value != same for value in per_layer):
    overrides["layer_bits"] = tuple(bits if value == same else value for value in per_layer)
try:
    config = CompressionConfig(codebook_size=codebook_size, bits=bits, scope=scope, seed=int(seed), **overrides)
except Exception as error:  # the one place a config is built; shown, never raised
    show_error(error, "These settings cannot be used: ")
    stop_page()
dense_bytes = model_summary(kan)["dense_bytes"]
predicted = predicted_bytes(kan, config)
st.caption(f"Predicted compressed tensors: **{format_bytes(predicted)}** ({ratio_words(dense_bytes, predicted)} "
           f"than {format_bytes(dense_bytes)} dense), from the shapes alone; a codebook that finds fewer distinct "
           "shapes than K is smaller still. The file adds a JSON header.")

measure = kept_widget(
    st.checkbox, "measure", model.key, "Measure task quality right after compressing", value=True,
    help="Scores the dense and the compressed model the same way: " + measure_description(model.task, evaluation_set(model) is not None)
    + ". Turn it off for size and fidelity only.")
if st.button("Compress", type="primary"):
    bar = st.progress(0.0, text="starting")

    def compress_and_measure():
        done = run_compression(kan, model.key, model.label, config, progress_reporter(bar),
                               metadata=model.loaded.metadata)
        if measure:
            done = measure_run(done, kan, model.task, evaluation_set(model), progress_reporter(bar),
                               model.loaded.metadata)
        return done

    try:
        if evaluation_set(model) is None:  # the same model and settings give the same run: shared by every session
            run, reused = shared_job(("compress", model.key, model.task, repr(config), measure), compress_and_measure,
                                     bar)
        else:  # the user's own evaluation set is this session's alone
            run, reused = heavy_job(compress_and_measure, bar), False
        remember_run(replace(run, model_label=model.label))
        if reused:
            st.info("Another session compressed this model with the same settings; its result is reused here.")
    except Exception as error:  # any failure is one plain message, never a traceback
        show_error(error, "Compression failed: ")
    bar.empty()

run = latest_run(model)
if run is None:
    st.info("Pick a K and press **Compress**. Small K compresses more; larger K keeps more shapes.")
    stop_page()

numbers = headline(run)
st.subheader(f"Result: K = {run.config.codebook_size:,}, {bits_label(run.config)}, "
             f"{run.config.scope} codebooks, seed {run.config.seed}")
for note in codebook_notes(run):
    st.info(note)
if size_warning(run):
    st.warning(size_warning(run))
cols = st.columns(6)
cols[0].metric("Dense FP32", format_bytes(numbers["dense_bytes"]))
cols[1].metric("Compressed tensors", format_bytes(numbers["compressed_bytes"]))
cols[2].metric("File on disk", format_bytes(numbers["file_bytes"]), help="The tensors plus the file's JSON header.")
cols[3].metric("Ratio", f"{numbers['ratio']:.2f}×", help="Dense FP32 bytes ÷ compressed tensor bytes, as the paper "
               f"reports it; against the whole file it is {numbers['file_ratio']:.2f}×.")
cols[4].metric("Coefficient rel. L2 error", f"{numbers['coef_rel_l2']:.4f}")
cols[5].metric("Spline function rel. RMS error", f"{numbers['function_rel_rms']:.4f}")
if run.scores is not None:
    cols = st.columns([2, 2, 3])
    cols[0].metric("Dense model", run.scores.dense_text)
    cols[1].metric("Compressed model", run.scores.compressed_text,
                   delta=run.scores.compressed_text_delta, delta_color="normal" if run.scores.higher_is_better
                   else "inverse")
    cols[2].caption(f"Task quality: {run.scores.label}, measured right after compressing.")
st.markdown(fidelity_words(run))
st.caption(f"Compressed in {numbers['seconds']:.2f} s.")

left, right = st.columns(2)
with left:
    st.markdown("**Compressed bytes per component and layer**")
    storage = storage_frame(run)
    stored = [component for component in COMPONENTS if component in set(storage["component"])]
    st.altair_chart(alt.Chart(storage).mark_bar().encode(
        x=alt.X("bytes:Q", title="bytes", axis=alt.Axis(format=",")), y=alt.Y("layer:N", title=None),
        color=alt.Color("component:N", scale=alt.Scale(domain=stored),
                        legend=alt.Legend(orient="bottom", columns=4, labelLimit=0, symbolLimit=0)),
        tooltip=["layer", "component", alt.Tooltip("bytes:Q", format=",")]), width="stretch")
with right:
    st.markdown("**Dense against compressed, per layer**")
    st.altair_chart(alt.Chart(dense_vs_compressed_frame(run)).mark_bar().encode(
        x=alt.X("bytes:Q", title="bytes", axis=alt.Axis(format=",")), y=alt.Y("layer:N", title=None),
        yOffset="form:N", color=alt.Color("form:N", title=None, legend=alt.Legend(orient="bottom")),
        tooltip=["layer", "form", alt.Tooltip("bytes:Q", format=",")]), width="stretch")

st.markdown("**Fidelity per layer**")
st.dataframe(layer_fidelity_frame(run), hide_index=True, width="stretch",
             column_config={name: st.column_config.NumberColumn(format="localized")
                            for name in ("dense KB", "compressed KB")})
st.download_button("Download the compressed file", run.result.encoded, file_name=run.file_name,
                   mime="application/octet-stream", type="primary")

st.subheader("Run history")
runs = run_history()
st.dataframe(history_frame(runs), hide_index=True, width="stretch",
             column_config={"compressed bytes": st.column_config.NumberColumn(format="localized"),
                            "ratio": st.column_config.NumberColumn(format="%.2f×"),
                            "seconds": st.column_config.NumberColumn(format="%.2f")})
st.download_button("Download the run history (CSV)", history_csv(runs), file_name="sharekan-run-history.csv",
                   mime="text/csv")
if len(runs) >= 2:
    numbers_offered = list(range(1, len(runs) + 1))
    if session().compared_history_length != len(runs) or widget_value("compare_first") is None:
        # a new run (or a return to the page): compare the latest two; the pickers are keyed, so an index
        # given to them would be ignored once they hold a value
        set_widget_value("compare_first", len(runs) - 1), set_widget_value("compare_second", len(runs))
        session().compared_history_length = len(runs)
    left, right = st.columns(2)
    first = left.selectbox("Compare run", numbers_offered, key="compare_first")
    second = right.selectbox("with run", numbers_offered, key="compare_second")
    if first == second:
        st.caption("Pick two different runs to compare them.")
    else:
        st.dataframe(comparison_frame(runs, first, second), hide_index=True, width="stretch", height="content")
    st.caption("Runs of this model with task quality measured also appear on the Trade-offs chart: beside its "
               "sweep when the sweep uses the same metric, alone when there is no sweep yet.")
