"""Splines: how one edge's spline is stored. Before compression: the original splines, each layer's
coefficient histogram and statistics. After: the Gain-Shape-Bias decomposition step by step on the
edge's own spline, ranked edges and the codebook atlas (click a row or a tile to open that edge)."""
import plotly.graph_objects as go
import streamlit as st

from app_pages.common import latest_run, require_model, set_widget_value, widget_value
from sharekan_core.studio import splines
from sharekan_core.studio.compression import bits_label
from sharekan_core.studio.models import layer_table

model = require_model()
kan = model.loaded.model
run = latest_run(model)
st.title("Splines")
st.caption(f"**{model.label}**" + (f" compressed with K = {run.config.codebook_size:,}, {bits_label(run.config)}."
                                   if run else ", before compression."))

layer = st.selectbox("Layer", range(len(kan.layers)), format_func=lambda i: f"layer {i} "
                     f"({kan.layers[i].in_features:,} → {kan.layers[i].out_features:,})")
width_in, width_out = kan.layers[layer].in_features, kan.layers[layer].out_features
view = f"{model.key}_{layer}_{id(run) if run else 'dense'}"  # each run of each layer opens on its typical edge
OUT, IN = f"edge_out_{view}", f"edge_in_{view}"


def select_edge(edge: tuple[int, int] | None) -> None:
    """Open ``edge`` (output, input) in the edge pickers; runs as a widget callback, before the page reruns."""
    if edge is not None:
        set_widget_value(OUT, int(edge[0])), set_widget_value(IN, int(edge[1]))


def typical() -> tuple[int, int]:
    return splines.typical_edge(run.result, layer) if run else splines.typical_original_edge(kan, layer)


def ranked(worst: bool):
    if run:
        return splines.ranked_edges(run.result, layer, count=10, worst=worst)
    return splines.ranked_gains(kan, layer, count=10, largest=worst)


def select_row(table_key: str, table) -> None:
    rows = widget_value(table_key).selection.rows
    if rows:
        select_edge((table["output"].iloc[rows[0]], table["input"].iloc[rows[0]]))


if widget_value(OUT) is None:
    select_edge(typical())
worst, best = ranked(True), ranked(False)
cols = st.columns([2, 2, 1, 1, 1])
output = cols[0].number_input(f"Output (0–{width_out - 1:,})", 0, width_out - 1, key=OUT)
input_ = cols[1].number_input(f"Input (0–{width_in - 1:,})", 0, width_in - 1, key=IN)
cols[2].button("Typical edge", on_click=select_edge, args=(typical(),), help="The median edge of the layer "
               + ("by reconstruction error" if run else "by gain"), width="stretch")
cols[3].button("Worst edge" if run else "Largest gain", on_click=select_edge,
               args=((worst["output"].iloc[0], worst["input"].iloc[0]),), width="stretch")
cols[4].button("Best edge" if run else "Smallest gain", on_click=select_edge,
               args=((best["output"].iloc[0], best["input"].iloc[0]),), width="stretch")
output, input_ = int(output), int(input_)
knots = splines.knots(kan, layer, input_)


def curve_figure(title: str, height: int = 300) -> go.Figure:
    figure = go.Figure()
    for knot in knots:
        figure.add_vline(x=float(knot), line={"color": "lightgrey", "width": 1, "dash": "dot"})
    figure.update_layout(title=title, xaxis_title="input x", height=height, margin={"t": 50, "b": 40},
                         legend={"orientation": "h", "y": -0.25})
    return figure


if run is None:
    frame, bias, gain = splines.original_decomposition(kan, layer, output, input_)
    figure = curve_figure(f"Edge: layer {layer}, input {input_} → output {output} (dotted: knots)", 380)
    figure.add_scatter(x=frame["x"], y=frame["original"], name="original spline", line={"width": 3})
    figure.add_scatter(x=frame["x"], y=frame["bias"], name=f"bias b = {bias:+.4f}", line={"dash": "dash"})
    st.plotly_chart(figure, width="stretch")
    st.markdown(f"This edge's spline has **{kan.layers[layer].num_coefficients} coefficients**. SHARe-KAN will "
                f"store it as a bias **b = {bias:+.4f}** (the dashed line), a gain **g = {gain:.4f}** (how strongly "
                "it bends) and a unit shape shared through a codebook. Compress the model to see each step.")
    st.page_link("app_pages/compress.py", label="Compress it to see the decomposition", icon=":material/compress:")
    left, right = st.columns(2)
    bars = splines.coefficient_histogram(kan, layer)
    histogram = go.Figure(go.Bar(x=(bars["low"] + bars["high"]) / 2, y=bars["count"],
                                 width=(bars["high"] - bars["low"]).tolist()))
    histogram.update_layout(title=f"Coefficients of layer {layer}", xaxis_title="coefficient value",
                            yaxis_title="count", height=300, margin={"t": 50, "b": 40})
    left.plotly_chart(histogram, width="stretch")
    right.markdown("**Per-layer statistics**")
    right.dataframe(layer_table(kan), hide_index=True, width="stretch")
    titles = (f"**Largest gains in layer {layer}** (click a row)", f"**Smallest gains in layer {layer}**")
else:
    story = splines.edge_story(kan, run.result, layer, output, input_)
    steps = splines.decomposition_frame(kan, story)
    figure = curve_figure(f"Edge: layer {layer}, input {input_} → output {output} (dotted: knots)", 380)
    figure.add_scatter(x=steps["x"], y=steps["original"], name="original", line={"width": 3})
    figure.add_scatter(x=steps["x"], y=steps["gain-scaled codeword"], name="reconstructed (SHARe-KAN)",
                       line={"dash": "dash", "width": 3})
    st.plotly_chart(figure, width="stretch")

    st.subheader("How this edge is stored, step by step")
    D = len(story.coefficients)
    panels = st.columns(4)
    first = curve_figure("1. Bias: the spline's level")
    first.add_scatter(x=steps["x"], y=steps["original"], name="original")
    first.add_scatter(x=steps["x"], y=steps["bias"], name=f"bias b = {story.bias:+.3f}", line={"dash": "dash"})
    second = curve_figure("2. Unit shape: the form alone")
    second.add_scatter(x=steps["x"], y=steps["unit shape"], name="its unit shape u")
    second.add_scatter(x=steps["x"], y=steps["codeword"], name=f"codeword #{story.codeword_index}",
                       line={"dash": "dash"})
    third = curve_figure("3. Gain-scaled codeword")
    third.add_scatter(x=steps["x"], y=steps["original"], name="original")
    third.add_scatter(x=steps["x"], y=steps["gain-scaled codeword"], name="b′ + g′ · codeword",
                      line={"dash": "dash"})
    fourth = curve_figure("4. What is lost: the error")
    fourth.add_scatter(x=steps["x"], y=steps["error"], name="original − reconstructed", fill="tozeroy")
    for panel, step in zip(panels, (first, second, third, fourth)):
        panel.plotly_chart(step, width="stretch")
    st.markdown(f"""
1. **Bias** b = mean(c) = **{story.bias:+.4f}**. B-splines add up to one, so a constant coefficient draws a
   flat line: the bias is the spline's level.
2. **Shape** u = (c − b) / g: the {D} coefficients with the level removed and scaled to unit length, the
   spline's form alone. Similar forms are clustered into a codebook of **{story.codebook_size:,} shapes**; this
   edge points at codeword **#{story.codeword_index}**, cosine **{story.shape_cosine:.4f}** with its own shape.
3. **Gain** g = ‖c − b‖ = **{story.gain:.4f}**: how strongly the spline bends. The file keeps a refitted gain
   **{story.stored_gain:.4f}** and bias **{story.stored_bias:+.4f}** and rebuilds the spline as b′ + g′ · codeword.
4. **Error**: coefficient rel. L2 **{story.coef_rel_l2:.4f}**, function rel. RMS **{story.function_rel_rms:.4f}**.
   {splines.error_words(story)}

{splines.bits_words(story)}
""")
    with st.expander("All coefficients of this edge"):
        st.dataframe(splines.coefficient_frame(story), hide_index=True, width="stretch")
    titles = (f"**Worst reconstructed edges of layer {layer}** (click a row)",
              f"**Best reconstructed edges of layer {layer}** (click a row)")

left, right = st.columns(2)
for column, title, table, name in ((left, titles[0], worst, "worst"), (right, titles[1], best, "best")):
    column.markdown(title)
    key = f"table_{name}_{view}"
    column.dataframe(table, hide_index=True, width="stretch", key=key, on_select=lambda k=key, t=table: select_row(k, t),
                     selection_mode="single-row")

if run is not None:
    st.subheader("Codebook atlas: the most used shapes (click a tile to open a typical edge using it)")
    codebook_id = run.result.compressed.layers[layer].codebook_id
    atlas = splines.atlas_frame(run.result, codebook_id, top=12)
    grid = st.columns(4)
    for position, (rank, shape) in enumerate(atlas.groupby("rank", sort=True)):
        codeword = int(shape["codeword"].iloc[0])
        tile = go.Figure(go.Scatter(x=shape["x"], y=shape["value"], line={"width": 2}, mode="lines+markers",
                                    marker={"size": 3}))
        tile.update_layout(title=f"#{codeword}: {int(shape['usage'].iloc[0]):,} edges", height=180,
                           margin={"t": 35, "b": 10, "l": 10, "r": 10}, showlegend=False, clickmode="event+select")
        tile_key = f"atlas_{view}_{rank}"
        grid[position % 4].plotly_chart(
            tile, width="stretch", key=tile_key, selection_mode="points",
            on_select=lambda c=codeword: select_edge(splines.edges_using(run.result, layer, c)))
