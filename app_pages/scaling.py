"""Scaling: storage of N task heads, 1 to 50, as N dense heads against heads sharing one codebook."""
import altair as alt
import streamlit as st

from app_pages.common import latest_run, progress_reporter, require_model, require_run, session, show_error
from sharekan_core.studio import scaling
from sharekan_core.studio.compression import bits_label, width_name
from sharekan_core.studio.models import format_bytes, results_stem
from sharekan_core.studio.saved_results import saved_result
from sharekan_core.studio.settings import settings as studio_settings

model = require_model()
st.title("Scaling")
st.caption("N task heads of this architecture: each dense head stores all its coefficients; with SHARe-KAN the "
           "codebooks are stored once and each head adds only its indices, gains, biases and base weights.")

saved = saved_result("scaling", results_stem(model.key))
run = latest_run(model)
settings, sources = {}, {}
if saved is not None:
    settings["saved"] = f"K = {saved['codebook_size']:,}, {width_name(saved['bits'])}"
    sources["saved"] = f"saved with the app ({len(saved['heads'])} real heads, {settings['saved']})"
if run is not None:
    settings["run"] = f"K = {run.config.codebook_size:,}, {bits_label(run.config)}"
    sources["run"] = f"this session's compression ({settings['run']})"
if not sources:
    require_run(model, "how storage grows with the number of heads")
source = st.radio("Storage from", list(sources), format_func=sources.get, horizontal=True) if len(sources) > 1 \
    else next(iter(sources))
if source == "saved":
    costs, curve = scaling.saved_head_costs(saved), scaling.curve_frame(saved["curve"])
else:
    costs, curve = scaling.head_costs(run.result), scaling.scaling_frame(run.result, max_heads=50)

cols = st.columns(3)
cols[0].metric("One dense head", format_bytes(costs["dense_per_head"]))
cols[1].metric("Shared codebooks (paid once)", format_bytes(costs["shared_once"]))
cols[2].metric("Each further head", format_bytes(costs["per_head"]))

left, right = st.columns([4, 3])
chart = alt.Chart(curve).mark_line(point=alt.OverlayMarkDef(size=20)).encode(
    x=alt.X("heads:Q", title="number of heads N"),
    y=alt.Y("MB:Q", scale=alt.Scale(type="log"), title="total storage (MB, log scale)"),
    color=alt.Color("form:N", title=None, legend=alt.Legend(orient="bottom", direction="vertical", labelLimit=400)),
    tooltip=["heads", "form", alt.Tooltip("MB:Q", format=".3f")])
left.altair_chart(chart.properties(height=380), width="stretch")
at_fifty = curve[curve["heads"] == curve["heads"].max()].set_index("form")["MB"]
left.markdown(f"At **N = {curve['heads'].max()}** for this model: dense **{at_fifty[scaling.FORMS['dense_bytes']]:.2f} "
              f"MB** against **{at_fifty[scaling.FORMS['shared_codebook_bytes']]:.2f} MB** with one shared codebook "
              f"({settings[source]}).")
left.markdown(scaling.sharing_words(curve))
right.markdown("**Checked against real files**")
if saved is None:
    right.caption("No saved scaling result for this model; scripts/make_assets.py writes real bundle files of "
                  "several heads and checks their bytes against this accounting.")
else:
    right.dataframe(scaling.file_checks_frame(saved), hide_index=True, width="stretch",
                    column_config={"header share": st.column_config.NumberColumn(format="percent")})
    right.caption(f"Bundles of the first N of {', '.join(f'`{name}`' for name in saved['heads'])} sharing one "
                  "codebook, written as real safetensors files: each file's bytes are the accounted tensor bytes "
                  "plus its header (tensor names, shapes, offsets and the JSON metadata).")

st.subheader("Run the heads of a real bundle")
if source == "saved":
    st.caption(f"Compresses `{saved['heads'][0]}` at {settings['saved']}, assigns the other heads to its "
               "codebooks, writes one bundle file, loads it back (the codebooks are read once and every head "
               "holds the same ones) and runs each head on the same 64 inputs against its own dense head.")
    bundle_config = scaling.saved_config(saved)

    def heads_to_bundle() -> list[scaling.BundleHead]:
        return scaling.read_head_files(scaling.head_files(saved["heads"], studio_settings().models_dir))
else:
    further = st.file_uploader(f"Your further heads of the same architecture as {model.label}, to bundle with it "
                               "(this project's .safetensors, or a checkpoint that records its base activation)",
                               accept_multiple_files=True, key=f"bundle_heads_{model.key}")
    st.caption(f"Compresses {model.label} at this session's settings ({settings['run']}), assigns each further "
               "head you add above to its codebooks, writes one bundle file, loads it back (the codebooks are read "
               "once and every head holds the same ones) and runs each head on the same 64 inputs against its own "
               "dense head.")
    bundle_config = run.config

    def heads_to_bundle() -> list[scaling.BundleHead]:
        first = scaling.BundleHead(scaling.bundle_names([model.label])[0], model.loaded.model, model.loaded.metadata)
        return [first] + scaling.read_uploaded_heads([(file.name, file.getvalue()) for file in further or []])
if st.button("Build the bundle and run its heads"):
    bar = st.progress(0.0, text="reading the heads")
    try:
        session().bundle_runs[(model.key, source)] = scaling.run_bundle_heads(
            heads_to_bundle(), bundle_config, progress=progress_reporter(bar))
    except Exception as error:  # a missing, unreadable or mismatched head file: one plain message, never a traceback
        show_error(error, "Could not run the bundle: ")
    bar.empty()
bundle_run = session().bundle_runs.get((model.key, source))
if bundle_run is not None:
    formats = {"relative output error": st.column_config.NumberColumn(format="%.2e")}
    if bundle_run.agreement is not None:
        formats[bundle_run.agreement] = st.column_config.NumberColumn(format="percent")
    st.dataframe(bundle_run.heads, hide_index=True, width="stretch", column_config=formats)
    st.caption(f"One bundle file of {format_bytes(bundle_run.file_bytes)}; codebooks shared by every loaded head: "
               f"**{'yes' if bundle_run.codebooks_shared else 'no'}**. Relative output error is "
               f"‖compressed − dense‖ / ‖dense‖ over the 64 inputs; {bundle_run.agreement_note}")

st.subheader("From the paper (not measured here)")
paper = alt.Chart(scaling.paper_frame()).encode(
    x=alt.X("MB:Q", title=f"MB for {scaling.PAPER_HEADS} heads"),
    y=alt.Y("form:N", title=None, axis=alt.Axis(labelLimit=400)),
    tooltip=["form", "MB"])
st.altair_chart(alt.layer(paper.mark_bar(color="grey"), paper.mark_text(align="left", dx=4).encode(text="MB:Q"))
                .properties(height=120), width="stretch")
st.caption(scaling.paper_caption())
