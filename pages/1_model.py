"""Model: pick a shipped KAN or upload one, and see its architecture, size and coefficient statistics."""
import streamlit as st

from pages.common import choose_model, require_model
from sharekan_core.errors import SharekanError
from sharekan_core.studio.models import format_bytes, layer_table, model_summary, read_upload, shipped_models

st.title("Model")
st.caption("Choose a pre-trained KAN to compress. Everything below is computed from the file you pick.")

UPLOAD = "upload"
options = {str(model.path): model.name for model in shipped_models()}
options[UPLOAD] = "Upload a checkpoint…"
current = st.session_state.get("model_key", next(iter(options)))
choice = st.radio("Model", list(options), format_func=options.get,
                  index=list(options).index(current) if current in options else 0)

if choice == UPLOAD:
    files = st.file_uploader(
        "A KAN checkpoint: this project's .safetensors, an efficient-kan state_dict (.pt, .pth, .safetensors) "
        "or a pykan checkpoint (its *_state file together with its *_config.yml)",
        accept_multiple_files=True)
    weights = [f for f in files if not f.name.endswith((".yml", ".yaml"))]
    configs = [f for f in files if f.name.endswith((".yml", ".yaml"))]
    if weights:
        upload = weights[0]
        try:
            loaded = read_upload(upload.name, upload.getvalue(), configs[0].getvalue() if configs else None)
        except SharekanError as error:
            st.error(f"Could not load {upload.name}: {error}")
        else:
            st.session_state["uploaded_model"] = (upload.name, loaded)
            st.success(f"Loaded {upload.name} ({loaded.source_format}).")
    if "uploaded_model" not in st.session_state:
        st.info("Upload a file to use it; the shipped models stay available above.")
        st.stop()
choose_model(choice)
model = require_model()
summary = model_summary(model.loaded.model)

st.subheader(model.label)
cols = st.columns([3, 2, 2, 2])
cols[0].metric("Architecture", " → ".join(str(w) for w in summary["widths"]))
cols[1].metric("Edges (splines)", f"{summary['edges']:,}")
cols[2].metric("Dense FP32 storage", format_bytes(summary["dense_bytes"]))
cols[3].metric(f"Coefficients per edge (G={summary['grid_size']}, k={summary['spline_order']})",
               summary["coefficients_per_edge"])

st.markdown("**Per-layer coefficient statistics** of the effective coefficients (spline scaler folded in): "
            "scale (std, |c| p99, gain), tails (excess kurtosis) and support (the spline's input domain).")
st.dataframe(layer_table(model.loaded.model), hide_index=True, width="stretch")

if model.loaded.metadata:
    with st.expander("Model card metadata stored in the file"):
        st.json(model.loaded.metadata)
st.page_link("pages/2_compress.py", label="Next: compress it", icon=":material/compress:")
