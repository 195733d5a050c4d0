"""Trade-offs: storage (MB, log scale) against the task metric for K x bits, pruning on the same chart,
and zero-shot codebook transfer between two models."""
import altair as alt
import streamlit as st

from app_pages.common import (evaluation_set, progress_reporter, require_model, run_history, session, show_error,
                              stop_page)
from sharekan_core.studio import tradeoffs
from sharekan_core.studio.models import results_stem, shipped_path
from sharekan_core.studio.saved_results import earlier_version_note, saved_result
from sharekan_core.studio.settings import settings as studio_settings

model = require_model()
stem = results_stem(model.key)
st.title("Trade-offs")
st.caption("Every point is a measured compression: SHARe-KAN for each codebook size K and bit-width (mean over "
           "seeds, bars ±1 std), and magnitude pruning of whole edges as the baseline.")

documents = {}
saved = saved_result("sweeps", stem)
if saved is not None:
    documents["saved with the app"] = saved
live = session().sweeps.get(model.key)
if live is not None:
    documents["this session's live sweep"] = live

with st.expander("Run a live sweep of " + model.label, expanded=not documents):
    defaults = tradeoffs.live_sweep_defaults(model.loaded.model.num_edges)
    measures = tradeoffs.sweep_measures(model.loaded.model, model.task, evaluation_set(model), model.loaded.metadata)
    measure = measures[st.selectbox("Metric", list(measures), help="A model without a known task is measured by "
                                    "how closely the compressed outputs follow the dense ones on inputs drawn "
                                    "inside its grid, or by accuracy on the evaluation set you uploaded on the "
                                    "Model page.") if len(measures) > 1 else next(iter(measures))]
    sizes = st.multiselect("Codebook sizes K", defaults["size_choices"], default=defaults["sizes"])
    bits = st.multiselect("Bit-widths", [32, 16, 8, 4], default=defaults["bits"])
    seeds = st.number_input("Seeds per point", 1, 5, defaults["seeds"])
    sparsities = st.multiselect("Pruning sparsities", [0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9],
                                default=defaults["sparsities"])
    if st.button("Run live sweep", type="primary"):
        bar = st.progress(0.0, text="starting")
        try:
            live = tradeoffs.live_sweep(model.loaded.model, model.label, measure.metric, sorted(sizes), sorted(bits),
                                        list(range(int(seeds))), sorted(sparsities), progress_reporter(bar))
        except Exception as error:  # any failure is one plain message, never a traceback
            show_error(error, "The sweep could not run: ")
        else:
            session().sweeps[model.key] = live
            documents["this session's live sweep"] = live
        bar.empty()

paper_applies = tradeoffs.paper_applies(model.task, model.loaded.metadata)
paper_points = tradeoffs.paper_frame() if paper_applies else tradeoffs.paper_frame().iloc[:0]


def run_layers(session_runs, domain) -> list:
    """This session's runs as black diamonds, each marked by its run number (runs at one place share a mark)."""
    shown = session_runs.assign(shown_mean=session_runs["metric_mean"].clip(*domain))
    chart = alt.Chart(shown).encode(x="MB:Q", y="shown_mean:Q",
                                    tooltip=["label", alt.Tooltip("metric_mean:Q", format=".4f")])
    return [chart.mark_point(shape="diamond", size=140, color="black", filled=False, strokeWidth=2),
            chart.mark_text(align="left", dx=8, dy=-8, color="black", fontWeight="bold").encode(text="mark:N")]


def paper_layers() -> list:
    """The paper's storage figures as dashed grey rules, named in their own legend (no text over the points)."""
    return [alt.Chart(paper_points).mark_rule(color="grey").encode(
        x="MB:Q", tooltip=["detail"],
        strokeDash=alt.StrokeDash("label:N", title="from the paper (not measured here)",
                                  scale=alt.Scale(range=[[2, 4], [8, 4]]),
                                  legend=alt.Legend(orient="bottom", labelLimit=400)))]


def runs_caption(session_runs) -> str:
    if not len(session_runs):
        return ""
    return ("Black diamonds, numbered: this session's runs from the Compress page ("
            + "; ".join(session_runs["label"]) + ").")


runs = run_history()
if not documents:
    runs_label = tradeoffs.runs_metric_label(runs, model.key)
    if runs_label is None:
        st.info("No sweep is saved for this model under assets/sweeps/; run a live sweep above. Compressions on the "
                "Compress page with task quality measured appear here as well.")
        stop_page()
    st.info("No sweep of this model yet: the chart shows this session's runs alone. Run a live sweep above to "
            "place them among every K and bit-width.")
    st.subheader(f"Storage against {runs_label}")
    session_runs = tradeoffs.session_runs_frame(runs, model.key, runs_label)
    domain = tradeoffs.metric_domain(session_runs.assign(method="sharekan", metric_low=session_runs["metric_mean"],
                                                         metric_high=session_runs["metric_mean"]))
    x_scale = alt.Scale(type="log", domain=tradeoffs.storage_domain(session_runs["MB"], paper_points["MB"]),
                        nice=False)
    base = alt.Chart(session_runs).encode(x=alt.X("MB:Q", scale=x_scale, title="storage (MB, log scale)"),
                                          y=alt.Y("metric_mean:Q", title=tradeoffs.axis_title(runs_label),
                                                  scale=alt.Scale(domain=domain, nice=False)))
    st.altair_chart(alt.layer(base.mark_point(opacity=0), *run_layers(session_runs, domain),
                              *(paper_layers() if paper_applies else [])).properties(height=420), width="stretch")
    st.caption(" ".join(part for part in (runs_caption(session_runs), tradeoffs.runs_not_drawn(runs, model.key,
                                                                                                runs_label)) if part))
else:
    shown = st.radio("Sweep", list(documents), horizontal=True, index=len(documents) - 1) if len(documents) > 1 \
        else next(iter(documents))
    document = documents[shown]
    label = tradeoffs.metric_label(document)
    st.subheader(f"Storage against {label}")
    session_runs = tradeoffs.session_runs_frame(runs, model.key, label)
    summary = tradeoffs.summary_frame(document)
    domain = tradeoffs.metric_domain(summary, session_runs["metric_mean"])
    summary = tradeoffs.on_scale(summary, domain)
    colours = alt.Scale(**tradeoffs.method_colours(summary["method"]))
    x_scale = alt.Scale(type="log", domain=tradeoffs.storage_domain(summary["MB"], session_runs["MB"],
                                                                    paper_points["MB"]), nice=False)
    y_scale = alt.Scale(domain=domain, nice=False)
    tooltip = ["label", "method", alt.Tooltip("MB:Q", format=",.4f"), alt.Tooltip("metric_mean:Q", format=".4f"),
               alt.Tooltip("metric_std:Q", format=".4f"), "seeds"]
    base = alt.Chart(summary).encode(x=alt.X("MB:Q", scale=x_scale, title="storage (MB, log scale)"),
                                     color=alt.Color("method:N", title="method", scale=colours), tooltip=tooltip)
    points = base.transform_filter("!datum.off_scale").mark_point(filled=True, size=70).encode(
        y=alt.Y("shown_mean:Q", title=tradeoffs.axis_title(label), scale=y_scale),
        shape=alt.Shape("bits:N", title="bits", scale=alt.Scale(domain=tradeoffs.bits_order(summary["bits"]))))
    off_scale = base.transform_filter("datum.off_scale").mark_point(shape="triangle-down", filled=True, size=120) \
        .encode(y="shown_mean:Q")
    bars = base.mark_rule().encode(y="shown_low:Q", y2="shown_high:Q")
    frontier = alt.Chart(summary[summary["pareto"]]).mark_line(strokeDash=[4, 3], color="black").encode(
        x="MB:Q", y="shown_mean:Q")
    pruning = alt.Chart(summary[summary["method"] == "pruning"]).mark_line(opacity=0.5).encode(
        x="MB:Q", y="shown_mean:Q", color=alt.Color("method:N", scale=colours))
    layers = [bars, points, off_scale, frontier, pruning]
    if len(session_runs):
        layers += run_layers(session_runs, domain)
    if paper_applies:
        layers += paper_layers()
    st.altair_chart(alt.layer(*layers).properties(height=420), width="stretch")
    st.caption(" ".join(part for part in (
        "Dashed line: SHARe-KAN's Pareto frontier (no other point is both smaller and better).",
        runs_caption(session_runs), tradeoffs.runs_not_drawn(runs, model.key, label),
        tradeoffs.off_scale_words(summary),
        f"Computed in {document['seconds']:.0f} s by scripts/make_assets.py." if "seconds" in document else "",
        tradeoffs.paper_caption() if paper_applies else "") if part))
    st.dataframe(summary[["label", "method", "MB", "metric_mean", "metric_std", "seeds", "pareto"]],
                 hide_index=True, width="stretch",
                 column_config={"MB": st.column_config.NumberColumn(format="%.4f"),
                                "metric_mean": st.column_config.NumberColumn("metric mean", format="%.4f"),
                                "metric_std": st.column_config.NumberColumn("metric std", format="%.4f")})

methods = saved_result("sweeps", f"{stem}_methods") if stem else None
if methods is not None:
    st.subheader("Every method on one chart")
    shipped_file = shipped_path(stem)
    stale = earlier_version_note(methods, shipped_file) if shipped_file is not None else None
    if stale:
        st.warning(stale)
    compared = tradeoffs.methods_frame(methods)
    method_domain = tradeoffs.metric_domain(compared)
    compared = tradeoffs.on_scale(compared, method_domain)
    method_colours = alt.Scale(**tradeoffs.method_colours(compared["method"]))
    method_axis = alt.X("MB:Q", scale=alt.Scale(type="log", domain=tradeoffs.storage_domain(compared["MB"]), nice=False),
                        title="storage (MB, log scale)")
    method_base = alt.Chart(compared).encode(
        x=method_axis, color=alt.Color("method:N", title="method", scale=method_colours),
        tooltip=["label", alt.Tooltip("MB:Q", format=",.4f"), alt.Tooltip("ratio:Q", format=".1f"),
                 alt.Tooltip("metric_mean:Q", format=".4f"), alt.Tooltip("metric_std:Q", format=".4f"), "seeds",
                 "vs dense (95% CI)"])
    method_points = method_base.transform_filter("!datum.off_scale").mark_point(filled=True, size=60).encode(
        y=alt.Y("shown_mean:Q", title=tradeoffs.axis_title(tradeoffs.metric_label(methods)),
                scale=alt.Scale(domain=method_domain, nice=False)))
    method_off_scale = method_base.transform_filter("datum.off_scale").mark_point(
        shape="triangle-down", filled=True, size=110).encode(y="shown_mean:Q")
    method_frontiers = alt.Chart(compared[compared["pareto"]]).mark_line().encode(
        x="MB:Q", y="shown_mean:Q", color=alt.Color("method:N", scale=method_colours))
    st.altair_chart(alt.layer(method_frontiers, method_points, method_off_scale).properties(height=380),
                    width="stretch")
    st.caption(" ".join(part for part in (
        "Each line joins one method's Pareto frontier: its points that no point of the same method beats on both "
        "size and quality.", tradeoffs.off_scale_words(compared),
        "Computed by scripts/make_assets.py; the method tables in docs/results.md come from the same file.") if part))
    st.markdown(tradeoffs.method_notes(compared["method"]))

st.subheader("Zero-shot codebook transfer")
detector_files = studio_settings().detector_files
across = saved_result("transfer", f"{stem}_cross_task") if stem else None
if across is not None:
    st.markdown(f"**Across tasks** (as the paper's VOC → COCO): the codebook of `{across['source']}` (20 VOC classes) "
                f"applied without retraining to `{across['target']}`, a head trained the same way for the 60 COCO "
                f"classes outside VOC. Metric: {tradeoffs.metric_label(across)}.")
    st.dataframe(tradeoffs.transfer_frame(across), hide_index=True, width="stretch")
    caveat = tradeoffs.transfer_caveat(across, tradeoffs.transfer_reference(across, detector_files))
    if caveat:
        st.caption(caveat)
transfer = saved_result("transfer", stem)
if transfer is None:
    st.caption("No transfer result is saved for this model (scripts/make_assets.py writes assets/transfer/).")
else:
    if across is not None:
        st.markdown("**Between two heads of the same task**, trained separately:")
    st.markdown(f"Codebook learned on model A, applied to model B without retraining: A = `{transfer['source']}`, "
                f"B = `{transfer['target']}`. B keeps its own gains and biases; only its shapes come from A's "
                f"codebook. Metric: {tradeoffs.metric_label(transfer)}.")
    st.dataframe(tradeoffs.transfer_frame(transfer), hide_index=True, width="stretch")
    caveat = tradeoffs.transfer_caveat(transfer, tradeoffs.transfer_reference(transfer, detector_files))
    if caveat:
        st.caption(caveat)
