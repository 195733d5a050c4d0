"""Trade-offs: storage (MB, log scale) against the task metric for K x bits, pruning on the same chart."""
import altair as alt
import streamlit as st

from pages.common import progress_reporter, require_model
from sharekan_core.errors import SharekanError
from sharekan_core.studio import tradeoffs

model = require_model()
st.title("Trade-offs")
st.caption("Every point is a measured compression: SHARe-KAN for each codebook size K and bit-width (mean over "
           "seeds, bars ±1 std), and magnitude pruning of whole edges as the baseline.")
if not tradeoffs.sweeps_available():
    st.info("The sweep runner (sharekan_core.experiments) is not available yet.")
    st.stop()

documents = {f"saved: {name}": document for name, document in tradeoffs.saved_sweeps().items()}
documents.update({f"live: {name}": document for name, document in st.session_state.get("sweeps", {}).items()})

with st.expander("Run a live sweep of " + model.label, expanded=not documents):
    defaults = tradeoffs.live_sweep_defaults(model.loaded.model.num_edges)
    sizes = st.multiselect("Codebook sizes K", defaults["size_choices"], default=defaults["sizes"])
    bits = st.multiselect("Bit-widths", [32, 16, 8, 4], default=defaults["bits"])
    seeds = st.number_input("Seeds per point", 1, 5, defaults["seeds"])
    sparsities = st.multiselect("Pruning sparsities", [0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9],
                                default=defaults["sparsities"])
    if st.button("Run live sweep", type="primary"):
        bar = st.progress(0.0, text="starting")
        try:
            document = tradeoffs.live_sweep(model.loaded.model, model.label, model.task, sorted(sizes), sorted(bits),
                                            list(range(int(seeds))), sorted(sparsities), progress_reporter(bar))
        except SharekanError as error:
            st.error(f"The sweep could not run: {error}")
        else:
            st.session_state.setdefault("sweeps", {})[model.label] = document
            documents[f"live: {model.label}"] = document
        bar.empty()

if not documents:
    st.info("No sweep is saved under assets/sweeps/ yet; run a live sweep above.")
    st.stop()

name = st.selectbox("Sweep", list(documents), index=len(documents) - 1)
document = documents[name]
summary = tradeoffs.summary_frame(document)
metric_title = document.get("metric_label") or document.get("metric", "metric")

base = alt.Chart(summary).encode(
    x=alt.X("MB:Q", scale=alt.Scale(type="log"), title="storage (MB, log scale)"),
    tooltip=["label", "method", alt.Tooltip("MB:Q", format=".4f"), alt.Tooltip("metric_mean:Q", format=".4f"),
             alt.Tooltip("metric_std:Q", format=".4f"), "seeds"])
points = base.mark_point(filled=True, size=70).encode(
    y=alt.Y("metric_mean:Q", title=metric_title, scale=alt.Scale(zero=False)),
    color=alt.Color("method:N", title="method"), shape=alt.Shape("bits:N", title="bits"))
bars = base.mark_rule().encode(y="metric_low:Q", y2="metric_high:Q", color="method:N")
frontier = alt.Chart(summary[summary["pareto"]]).mark_line(strokeDash=[4, 3], color="black").encode(
    x="MB:Q", y="metric_mean:Q")
pruning = alt.Chart(summary[summary["method"] == "pruning"]).mark_line(opacity=0.5).encode(
    x="MB:Q", y="metric_mean:Q", color="method:N")
layers = [bars, points, frontier, pruning]
if tradeoffs.comparable_to_paper(document):
    paper = alt.Chart(tradeoffs.paper_points_as_fraction()).encode(x="MB:Q", y="metric:Q")
    layers += [paper.mark_point(shape="diamond", size=120, color="grey"),
               paper.mark_text(align="left", dx=8, color="grey").encode(text="label:N")]
st.altair_chart(alt.layer(*layers).properties(height=420), width="stretch")
st.caption("Dashed line: SHARe-KAN's Pareto frontier (no other point is both smaller and better).")
if not tradeoffs.comparable_to_paper(document):
    st.markdown("**From the paper (not measured here)**: PASCAL VOC detection head, dense 58.67 MB at 82.22 mAP; "
                "SHARe-KAN Int8 6.32 MB at 80.22 mAP. They measure a different task from this sweep's metric.")
st.dataframe(summary[["label", "method", "MB", "metric_mean", "metric_std", "seeds", "pareto"]],
             hide_index=True, width="stretch")
