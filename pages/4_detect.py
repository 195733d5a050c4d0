"""Detect: the shipped SSD-MobileNetV2 with its dense KAN head against the compressed head, on real photos."""
import streamlit as st

from pages.common import latest_run, load_shipped
from sharekan_core.studio.compression import bits_label
from sharekan_core.errors import SharekanError
from sharekan_core.studio import detection
from sharekan_core.studio.models import shipped_detection_head

HEAD_REPEATS = 3  # one run of a head is too noisy on a shared host to compare two heads


@st.cache_resource(show_spinner="Loading the detector…")
def dense_detector(path: str):
    return detection.dense_detector(load_shipped(path).model)


@st.cache_resource(show_spinner="Loading the SSD teacher…")
def teacher_detector():
    return detection.teacher_detector()


def compressed_detector(run, decompressed: bool):
    """This session's compressed-head detector, rebuilt only when the run or the way it runs changes."""
    cached = st.session_state.get("compressed_detector")
    if cached is None or cached[0] is not run or cached[1] != decompressed:
        st.session_state["compressed_detector"] = (run, decompressed,
                                                   *detection.compressed_detector(run.result, decompressed))
    return st.session_state["compressed_detector"][2:]


st.title("Detect")
st.caption("SSD-MobileNetV2 (COCO backbone, ported to PyTorch) with a KAN prediction head for the 20 PASCAL VOC "
           "classes. Agreement compares the two heads on the same image; no human labels are involved.")

photos = {path.name: path for path in detection.bundled_photos()}
source = st.radio("Image", ("Bundled photo", "Upload"), horizontal=True)
if source == "Bundled photo":
    name, upload = st.selectbox("Photo", list(photos)), None
else:
    name, upload = None, st.file_uploader("JPEG, PNG or WebP image", type=["jpg", "jpeg", "png", "webp"])
score = st.slider("Score threshold", 0.05, 0.95, 0.3, 0.05,
                  help="The distilled KAN head scores lower than the SSD teacher it learned from "
                       "(about 0.6 where the teacher says 0.98), so the default sits at 0.30.")
decompressed = st.toggle("Run the compressed head through decompressed weights instead (for comparison)",
                         help="By default the compressed head runs in the compressed domain, straight from its "
                              "codebook, indices, gains and biases; this rebuilds dense splines first.")

try:
    if upload is not None:
        image = detection.read_image_upload(upload.name, upload.getvalue())
    elif name is not None:
        image = detection.read_image(photos[name])
    else:
        st.info("Upload an image, or pick a bundled photo.")
        st.stop()
except SharekanError as error:
    st.error(f"Could not use this image: {error}")
    st.stop()

head = shipped_detection_head()
if head is None or not detection.head_files_present():
    st.warning("The KAN detection head (kan_head.safetensors and location_adapter.safetensors in "
               "sample_models/ssd_mobilenet_v2/) is missing, so this page shows the original SSD box predictor, "
               "the teacher the KAN head is distilled from.")
    run = detection.timed_detect(teacher_detector(), image, score)
    st.image(detection.draw_detections(image, run.detections), width="stretch",
             caption=f"SSD teacher: {len(run.detections)} detections in {run.milliseconds:.0f} ms")
    st.dataframe(detection.detections_table(run), hide_index=True)
    st.stop()

maps, backbone_ms = detection.backbone_maps(dense_detector(str(head.path)), image)
compression = latest_run(str(head.path))
if compression is None:
    dense = detection.timed_detect(dense_detector(str(head.path)), image, score, maps)
    st.info("Compress the detection head on the Compress page to compare it here; showing the dense head only.")
    st.page_link("pages/2_compress.py", label="Go to Compress", icon=":material/compress:")
    st.image(detection.draw_detections(image, dense.detections), width="stretch",
             caption=f"Dense KAN head: {len(dense.detections)} detections in {backbone_ms + dense.milliseconds:.0f} ms")
    st.dataframe(detection.detections_table(dense), hide_index=True)
    st.stop()

detector, how = compressed_detector(compression, decompressed)
dense, compressed = detection.timed_heads([dense_detector(str(head.path)), detector], image, score, maps,
                                          HEAD_REPEATS)
agree = detection.agreement(dense.detections, compressed.detections)
cols = st.columns(4)
cols[0].metric("Agreement (F1, IoU ≥ 0.5, same label)", f"{agree['f1']:.2f}")
cols[1].metric("Dense detections matched", f"{agree['matched']} of {agree['reference']}")
cols[2].metric("Dense head time", f"{dense.milliseconds:.0f} ms")
cols[3].metric("Compressed head time", f"{compressed.milliseconds:.0f} ms")
st.caption(f"Compressed head: K = {compression.config.codebook_size:,}, {bits_label(compression.config)}, "
           f"{compression.result.storage.ratio:.1f}× smaller, run by {how}. Head times are the median of "
           f"{HEAD_REPEATS} interleaved runs on this page load, box decoding and NMS included; the backbone, "
           f"shared by both heads, took {backbone_ms:.0f} ms.")

left, right = st.columns(2)
left.image(detection.draw_detections(image, dense.detections), width="stretch",
           caption=f"Dense KAN head: {len(dense.detections)} detections")
right.image(detection.draw_detections(image, compressed.detections), width="stretch",
            caption=f"Compressed KAN head: {len(compressed.detections)} detections")
left.dataframe(detection.detections_table(dense), hide_index=True)
right.dataframe(detection.detections_table(compressed), hide_index=True)
