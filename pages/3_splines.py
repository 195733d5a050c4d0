"""Splines: one edge's original and reconstructed spline, its Gain-Shape-Bias numbers, ranked edges, the codebook atlas."""
import plotly.graph_objects as go
import streamlit as st

from pages.common import require_model, require_run
from sharekan_core.studio.compression import bits_label
from sharekan_core.studio.splines import atlas_frame, coefficient_frame, edge_curves, edge_story, ranked_edges

model = require_model()
st.title("Splines")
run = require_run(model, "original against reconstructed splines")
kan = model.loaded.model
st.caption(f"**{model.label}** compressed with K = {run.config.codebook_size:,}, {bits_label(run.config)}.")

cols = st.columns(4)
layer = cols[0].selectbox("Layer", range(len(kan.layers)))
width_in, width_out = kan.layers[layer].in_features, kan.layers[layer].out_features
worst = ranked_edges(run.result, layer, count=10, worst=True)
first_out, first_in = int(worst["output"].iloc[0]), int(worst["input"].iloc[0])
output = cols[1].number_input(f"Output (0–{width_out - 1})", 0, width_out - 1, first_out, key=f"out_{layer}")
input_ = cols[2].number_input(f"Input (0–{width_in - 1})", 0, width_in - 1, first_in, key=f"in_{layer}")
cols[3].caption("Starts on the worst reconstructed edge of the layer; pick any other.")

story = edge_story(kan, run.result, layer, int(output), int(input_))
curves = edge_curves(kan, story)

figure = go.Figure()
figure.add_scatter(x=curves["x"], y=curves["original"], name="original", line={"width": 3})
figure.add_scatter(x=curves["x"], y=curves["reconstructed"], name="reconstructed (SHARe-KAN)",
                   line={"dash": "dash", "width": 3})
figure.update_layout(title=f"Edge: layer {layer}, input {story.input} → output {story.output}",
                     xaxis_title="input x", yaxis_title="spline value", height=380, margin={"t": 50, "b": 40})
st.plotly_chart(figure, width="stretch")

st.subheader("How this edge is stored: Gain · Shape + Bias")
D = len(story.coefficients)
st.markdown(f"""
The spline of this edge has **{D} coefficients** c[0] … c[{D - 1}]. SHARe-KAN splits them into three parts:

1. **Bias** b = mean(c) = **{story.bias:+.4f}**: the spline's vertical offset.
2. **Gain** g = ‖c − b‖ = **{story.gain:.4f}**: how strongly the spline bends.
3. **Shape** u = (c − b) / g: a zero-mean, unit-length vector of {D} numbers, the spline's form alone.

Many edges bend in similar ways, so their shapes are clustered into a shared codebook of
**{story.codebook_size:,} shapes**. This edge points at codeword **#{story.codeword_index}**, whose cosine
with the edge's own shape is **{story.shape_cosine:.4f}**. The file keeps a refitted gain
**{story.stored_gain:.4f}** and bias **{story.stored_bias:+.4f}** at the chosen bit-widths, and rebuilds
the spline as b′ + g′ · codeword.

Storage of this edge: **{story.dense_bits} bits** dense ({D} × FP32) against
**{story.stored_bits} bits** here ({story.index_bits}-bit index + {story.component_bits['gains']}-bit gain +
{story.component_bits['biases']}-bit bias; the codebook is shared by every edge).
Its reconstruction error: coefficient rel. L2 **{story.coef_rel_l2:.4f}**, function rel. RMS
**{story.function_rel_rms:.4f}**.
""")
coefficients = coefficient_frame(story)
bars = go.Figure()
for column in ("shape u", "codeword w"):
    bars.add_bar(x=coefficients["d"], y=coefficients[column], name=column)
bars.update_layout(title="The edge's shape against its codeword", xaxis_title="coefficient d", height=300,
                   barmode="group", margin={"t": 50, "b": 40})
st.plotly_chart(bars, width="stretch")
with st.expander("All coefficients of this edge"):
    st.dataframe(coefficients, hide_index=True, width="stretch")

left, right = st.columns(2)
left.markdown(f"**Worst reconstructed edges of layer {layer}**")
left.dataframe(worst, hide_index=True, width="stretch")
right.markdown(f"**Best reconstructed edges of layer {layer}**")
right.dataframe(ranked_edges(run.result, layer, count=10, worst=False), hide_index=True, width="stretch")

st.subheader("Codebook atlas: the most used shapes")
codebook_id = run.result.compressed.layers[layer].codebook_id
atlas = atlas_frame(run.result, codebook_id, top=12)
grid = st.columns(4)
for position, (rank, shape) in enumerate(atlas.groupby("rank", sort=True)):
    tile = go.Figure(go.Scatter(x=shape["x"], y=shape["value"], line={"width": 2}))
    tile.update_layout(title=f"#{int(shape['codeword'].iloc[0])}: {int(shape['usage'].iloc[0]):,} edges",
                       height=180, margin={"t": 35, "b": 10, "l": 10, "r": 10}, showlegend=False)
    grid[position % 4].plotly_chart(tile, width="stretch", key=f"atlas_{rank}")
