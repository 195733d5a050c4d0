"""Model: pick a shipped KAN or upload one (and optionally an evaluation set), and see its architecture,
size and coefficient statistics."""
import streamlit as st

from app_pages.common import (choose_model, chosen_model, evaluation_set, keep_evaluation_set, keep_upload,
                              model_choice, require_model, session, show_error, stop_page, uploaded_model)
from sharekan_core.ranges import BASE_ACTIVATION_NAMES, ZERO_BASE
from sharekan_core.studio.basis_nets import (basis_layer_table, basis_summary, codebook_sizes, compress_upload,
                                             is_basis_net)
from sharekan_core.studio.evaluation import evaluation_set_measure, read_evaluation_set, score
from sharekan_core.studio.messages import plain_message
from sharekan_core.studio.models import (ChosenModel, content_key, file_parts, format_bytes, layer_table, model_summary,
                                         read_upload, safe_filename, shipped_models)
from sharekan_core.studio.session import UPLOAD

NOT_STATED = "not stated (the file records it)"
NOTHING_BETWEEN = "nothing stated"


def basis_net_panel(model: ChosenModel) -> None:
    """An uploaded FastKAN, ChebyKAN or Gram net: its numbers, and its compression here with the file to download."""
    loaded = model.loaded
    summary = basis_summary(loaded.model)
    st.success(f"Read {model.label} as a {loaded.source_format} net at prefix {loaded.prefix or '(top level)'!r}. "
               "It compresses here (SHARe-KAN, layer by layer) and from the command line; the other pages work on "
               "B-spline KANs, so the model in use there is unchanged.")
    cols = st.columns(4)
    cols[0].metric("Architecture", " → ".join(str(w) for w in summary["widths"]))
    cols[1].metric("Edges", f"{summary['edges']:,}")
    cols[2].metric("Dense storage", format_bytes(summary["dense_bytes"]))
    cols[3].metric("Basis functions per edge", ", ".join(str(n) for n in summary["basis_functions"]))
    parts = file_parts(loaded)
    if len(parts) > 1:
        with st.expander("What the file holds: the net imported, and the parts that were not", expanded=True):
            st.dataframe(parts, hide_index=True, width="stretch")
    st.dataframe(basis_layer_table(loaded.model), hide_index=True, width="stretch")
    with st.expander("What its library's class is built with (the state dict does not hold it)"):
        st.json(summary["built_with"])
    left, right = st.columns(2)
    codebook = left.selectbox("Codebook size K (per layer)", codebook_sizes(loaded.model), key="basis_k",
                              index=len(codebook_sizes(loaded.model)) - 1)
    bits = right.selectbox("Bit-width", [8, 4], key="basis_bits")
    if st.button("Compress this net", type="primary"):
        session().basis_compression = compress_upload(loaded, codebook, bits, model.label)
    done = session().basis_compression
    if done is not None:
        report = done.report
        st.subheader(f"Compressed: K = {done.codebook_size}, Int{done.bits}")
        cols = st.columns(3)
        cols[0].metric("Stored bytes", format_bytes(report["compressed_bytes"]))
        cols[1].metric("Smaller by", f"{report['ratio']:.1f}x")
        cols[2].metric("Coefficient error (relative L2)", f"{report['coef_rel_l2']:.3f}")
        st.download_button("Download the compressed file (.skan)", done.encoded, file_name="compressed_basis.skan",
                           mime="application/octet-stream")
        st.caption("Run it with `python -m sharekan_core predict compressed_basis.skan --input X.npy --out y.npy`; "
                   "`decompress --layout native` gives the library's own state dict back.")

st.title("Model")
st.caption("Choose a pre-trained KAN to compress. Everything below is computed from the file you pick.")

options = {str(model.path): model.name for model in shipped_models()}
options[UPLOAD] = "Upload a checkpoint…"
current = model_choice() or next(iter(options))
choice = st.radio("Model", list(options), format_func=options.get,
                  index=list(options).index(current) if current in options else 0)

if choice == UPLOAD:
    weights = st.file_uploader(
        "One KAN checkpoint: this project's .safetensors; a state dict or training checkpoint (.pt, .pth, "
        ".safetensors) of efficient-kan, flashkan, inkan, kanx, deep-kan, FastKAN, ChebyKAN or Gram/KAGN, or of a "
        "whole model holding a KAN head; or a pykan checkpoint's *_state file. A new file replaces the one in use.")
    config = st.file_uploader("For a pykan checkpoint only: its *_config.yml", type=["yml", "yaml"])
    activation = st.selectbox("Base activation, for a file that does not record it (an efficient-kan state_dict, "
                              "a pykan *_state without its config)", [NOT_STATED, *BASE_ACTIVATION_NAMES, ZERO_BASE])
    stated = None if activation == NOT_STATED else activation
    prefix = st.text_input("Prefix of the KAN inside a bigger model, such as head. (blank: the only KAN is found)",
                           key="upload_prefix").strip() or None
    grid = st.text_input("Knot grid G,k,LOW,HIGH, for a file that does not save its knots (deep-kan)",
                         key="upload_grid").strip() or None
    between_choice = st.selectbox("Between the layers of a FastKAN, ChebyKAN or Gram net (ChebyKAN's nets keep a "
                                  "LayerNorm there)", [NOTHING_BETWEEN, "layernorm"], key="upload_between")
    between = None if between_choice == NOTHING_BETWEEN else between_choice
    if weights is not None:
        name = safe_filename(weights.name)
        payload, config_yml = weights.getvalue(), config.getvalue() if config is not None else None
        attempt = content_key(payload, config_yml or b"", *([stated.encode()] if stated else []),
                              *([b"prefix:" + prefix.encode()] if prefix else []),
                              *([b"grid:" + grid.encode()] if grid else []),
                              *([b"between:" + between.encode()] if between else []))
        outcome = session().upload_outcomes
        in_use, basis_net = uploaded_model(), session().basis_upload
        if outcome.get(attempt, "") is None and (in_use is None or in_use.key != attempt) \
                and (basis_net is None or basis_net.key != attempt):
            del outcome[attempt]  # a file that loaded before, uploaded again after another: read it again
        if attempt not in outcome:
            try:
                loaded = read_upload(weights.name, payload, config_yml, config.name if config is not None else None,
                                     base_activation=stated, prefix=prefix, grid=grid, between=between)
            except Exception as error:  # any failure of any loader is one plain message, never a traceback
                outcome[attempt] = plain_message(error, name)
            else:
                if is_basis_net(loaded):
                    session().basis_upload = ChosenModel(attempt, f"{name} (uploaded)", loaded)
                    session().basis_compression = None
                else:
                    keep_upload(ChosenModel(attempt, f"{name} (uploaded)", loaded))
                outcome[attempt] = None
        if outcome[attempt] is not None:
            in_use = chosen_model() if uploaded_model() is None else uploaded_model()
            st.error(f"Could not load this upload. {outcome[attempt]}")
            st.info(f"Still in use: **{in_use.label if in_use else 'no model'}**. Upload another file to replace it.")
        elif session().basis_upload is not None and session().basis_upload.key == attempt:
            basis_net_panel(session().basis_upload)
            stop_page()
        elif uploaded_model() is not None:
            in_use = uploaded_model()
            st.success(f"In use: {in_use.label}, read as {in_use.loaded.source_format} at prefix "
                       f"{in_use.loaded.prefix or '(top level)'!r} "
                       f"(content fingerprint {in_use.key.removeprefix('sha256:')[:12]}).")
    if uploaded_model() is None:
        st.info("Upload a file to use it; the shipped models stay available above.")
        stop_page()
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

parts = file_parts(model.loaded)
if len(parts) > 1:
    with st.expander("What the file holds: the KAN imported, and the parts that were not", expanded=True):
        st.dataframe(parts, hide_index=True, width="stretch")

st.markdown("**Per-layer coefficient statistics** of the effective coefficients (spline scaler folded in): "
            "scale (std, |c| p99, gain), tails (excess kurtosis) and support (the spline's input domain).")
st.dataframe(layer_table(model.loaded.model), hide_index=True, width="stretch",
             column_config={"dense KB": st.column_config.NumberColumn(format="localized")})

with st.expander("Your evaluation set (optional): accuracy or MSE after every compression",
                 expanded=evaluation_set(model) is not None):
    st.caption(f"X.npy: inputs of shape (N, {summary['widths'][0]}). y.npy: integer class labels (N,) for "
               f"accuracy, or targets (N, {summary['widths'][-1]}) for mean squared error. Without one, a model "
               "with no known task is scored by how closely the compressed outputs follow the dense ones.")
    left, right = st.columns(2)
    x_file = left.file_uploader("X.npy", type=["npy"], key=f"x_{model.key}")
    y_file = right.file_uploader("y.npy", type=["npy"], key=f"y_{model.key}")
    refused = None
    if x_file is not None and y_file is not None:
        try:
            keep_evaluation_set(model, read_evaluation_set(x_file.getvalue(), y_file.getvalue(), model.loaded.model))
        except Exception as error:  # a bad array is one plain message, shown below where it cannot be folded away
            refused = error
    if evaluation_set(model) is not None:
        measure = evaluation_set_measure(evaluation_set(model))
        st.metric(f"Dense model: {measure.metric.label}", measure.format(score(measure, model.loaded.model)))
if refused is not None:
    kept = evaluation_set(model)
    show_error(refused, "These evaluation files were not used"
               + (f"; the earlier set ({len(kept.inputs):,} rows) is still in use. " if kept else ". "),
               about_a_file=True)

if model.loaded.metadata:
    with st.expander("Model card metadata stored in the file"):
        st.json(model.loaded.metadata)
st.page_link("app_pages/compress.py", label="Next: compress it", icon=":material/compress:")
