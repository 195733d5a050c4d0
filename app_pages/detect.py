"""Detect: the chosen detection head, dense and compressed, with the SSD teacher as a reference, on real photos."""
import streamlit as st

from app_pages.common import (chosen_model, latest_run, measured, session, set_widget_value, shared_job,
                              shared_result, stop_page, widget_value)
from sharekan_core.errors import SharekanError
from sharekan_core.studio import detection
from sharekan_core.studio.compression import bits_label
from sharekan_core.studio.jobs import OTHERS_RAN
from sharekan_core.studio.models import content_key
from sharekan_core.studio.session import PhotoUpload

TIMING_REPEATS = 5  # on request: one run of a head is too noisy on a shared host to compare two heads


@st.cache_resource(show_spinner="Loading the detector…")
def dense_detector(key: str, _model, _metadata):
    return detection.dense_detector(_model, _metadata)


@st.cache_resource(show_spinner="Loading the SSD teacher…")
def teacher_detector(label_set: str):
    return detection.teacher_detector(label_set)


@st.cache_resource(show_spinner="Building the compressed head…", max_entries=8)
def compressed_detector(model_key: str, config: str, decompressed: bool, _result):
    """The compressed-head detector of one (model content, config), built once and shared by every session."""
    return detection.compressed_detector(_result, decompressed)


def show_column(column, title: str, image, run, highlight=frozenset()):
    """One head's annotated image, its download and its detections table."""
    annotated = detection.draw_detections(image, run.detections, highlight)
    column.image(annotated, width="stretch", caption=detection.column_caption(title, len(run.detections)))
    column.download_button(f"Download {title} image (PNG)", lambda: detection.png_bytes(annotated),  # on click:
                           file_name=f"{title.lower().replace(' ', '_')}.png", mime="image/png")  # no PNG per redraw
    column.dataframe(detection.detections_table(run), hide_index=True)
    if not run.detections:
        column.caption("Nothing here scores at or above the threshold; lower it to see weaker detections.")


st.title("Detect")

model = chosen_model()
if model is None or model.task != "detection":
    label = "No model" if model is None else f"**{model.label}**"
    task = "" if model is None else f" (its file says task: {model.task or 'none'})"
    st.error(f"{label} has no detection task{task}, so it cannot be used on this page. Choose an SSD detection "
             "head on the Model page, or upload a detection head (a KAN mapping 576 inputs to 150 outputs for the "
             "VOC classes, or 390 for the other COCO classes, saved with task: detection).")
    st.page_link("app_pages/model.py", label="Go to Model", icon=":material/model_training:")
    stop_page()
try:
    labels = detection.head_label_set(model.loaded.model)
except SharekanError as error:
    st.error(f"**{model.label}** cannot run as a detection head: {error}")
    stop_page()
st.caption(f"SSD-MobileNetV2 (COCO backbone, ported to PyTorch) with a KAN prediction head for {labels.title}. "
           "Agreement compares heads on the same image; no human labels are involved.")

photos = detection.photos_for(labels)
kept = session().detect_upload  # survives page visits
source = st.radio("Image", ("Bundled photo", "Upload"), horizontal=True, index=1 if kept else 0)
if source == "Bundled photo":
    names = list(photos)
    box = f"detect_photo_box_{labels.name}"  # the widget's own state; "detect_photo" outlives page visits
    if widget_value(box) not in names:  # seeded, never a default derived from the last pick (that recreated
        remembered = session().detect_photo  # the widget and dropped every second pick)
        set_widget_value(box, remembered if remembered in names else names[0])
    name = st.selectbox("Photo", names, key=box)
    session().detect_photo = name
else:
    # No type filter: a refused type left an error chip beside the next upload; the reader says what is wrong.
    upload = st.file_uploader("An image: JPEG, PNG, WebP, GIF, BMP or TIFF")
    if upload is not None:
        payload = upload.getvalue()
        kept = session().detect_upload = PhotoUpload(content_key(payload), upload.name, payload)
    if kept is None:
        st.info("Upload an image, or pick a bundled photo.")
        stop_page()
    name = kept.name
    if upload is None:
        st.caption(f"Showing your upload **{name}** from earlier in this session; upload another to replace it.")
score = st.slider("Score threshold", 0.05, 0.95, detection.DEFAULT_SCORE, 0.05, help=detection.threshold_help())
decompressed = st.toggle("Run the compressed head through decompressed weights instead (for comparison)",
                         help="By default the compressed head runs in the compressed domain, straight from its "
                              "codebook, indices, gains and biases; this rebuilds dense splines first.")
has_teacher = detection.teacher_available(labels)
with_teacher = st.toggle("Show the SSD teacher as a reference column", value=has_teacher, disabled=not has_teacher,
                         help="The original SSD box predictor that the KAN head was distilled from. A box the "
                              "teacher has but the dense head lacks was never learned; one the dense head has "
                              "but the compressed head lacks was lost to compression.")
if not has_teacher:
    st.info(detection.teacher_missing_message(labels))

try:
    image = (detection.read_image(photos[name]) if source == "Bundled photo"
             else detection.read_image_upload(kept.name, kept.payload))
except SharekanError as error:
    st.error(f"Could not use this image: {error}")
    stop_page()

if not detection.head_files_present():
    st.warning("The location adapter or the KAN head (location_adapter.safetensors, kan_head.safetensors in "
               "sample_models/ssd_mobilenet_v2/) is missing, so no KAN head can run here. The original SSD box "
               "predictor, the teacher the KAN head is distilled from, is shown alone where it is present.")
    if has_teacher:
        show_column(st, "SSD teacher", image, detection.timed_detect(teacher_detector(labels.name), image, score))
    stop_page()

try:
    dense_model = dense_detector(model.key, model.loaded.model, model.loaded.metadata)
except SharekanError as error:
    st.error(f"**{model.label}** cannot run as a detection head: {error}")
    stop_page()
# Each head runs once per image, for every session: a photo switch costs the backbone and one pass of each head;
# a threshold or a column switch re-draws from those outputs. More timing runs only when the user asks.
image_key = str(photos[name]) if source == "Bundled photo" else kept.key
maps, backbone_ms = shared_job(("backbone", image_key), lambda: detection.backbone_maps(dense_model, image))[0]
compression = latest_run(model)
heads = {"Dense KAN head": (("dense", model.key), dense_model)}  # title -> (outputs key, detector), column order
if compression is not None:
    detector, how = compressed_detector(model.key, repr(compression.config), decompressed, compression.result)
    heads["Compressed KAN head"] = (("compressed", model.key, repr(compression.config), decompressed), detector)
if with_teacher and has_teacher:
    heads["SSD teacher"] = (("teacher", labels.name), teacher_detector(labels.name))
outputs = {title: shared_job((key, image_key), lambda detector=detector: measured(
    lambda: detection.timed_outputs([detector], image.size, maps, 1)))[0] for title, (key, detector) in heads.items()}
timing_key = ("head times", *(key for key, _ in heads.values()), image_key)
if st.button(f"Time the heads ({TIMING_REPEATS} interleaved runs)", key="detect_time_heads",
             help="The times shown first are one run of each head, taken as the photo first ran; this times "
                  "every head shown again, in turns, and shows the medians."):
    shared_job(timing_key, lambda: measured(lambda: detection.head_times(
        [detector for _, detector in heads.values()], image.size, maps, TIMING_REPEATS)))
times = detection.shown_times(outputs, shared_result(timing_key), TIMING_REPEATS)
runs = {title: detection.detections_at(heads[title][1], output.value[0], image.size, score, times.milliseconds[title])
        for title, output in outputs.items()}
dense, teacher = runs["Dense KAN head"], runs.get("SSD teacher")
if compression is None:
    st.info(f"Compress **{model.label}** on the Compress page to compare it here; showing the dense head only.")
    st.page_link("app_pages/compress.py", label="Go to Compress", icon=":material/compress:")
    st.caption(f"Head times: {times.how}, box decoding and NMS included.")
    columns = st.columns(2 if teacher else 1)
    show_column(columns[0], "Dense KAN head", image, dense)
else:
    compressed = runs["Compressed KAN head"]
    agree = detection.match_f1(dense.detections, compressed.detections)
    only_dense, only_compressed = detection.disagreements(dense.detections, compressed.detections)
    cols = st.columns(4)
    cols[0].metric("Agreement (F1, IoU ≥ 0.5, same label)", detection.agreement_text(agree))
    cols[1].metric("Dense detections matched", f"{agree['matched']} of {agree['reference']}")
    cols[2].metric("Dense head time", f"{dense.milliseconds:.0f} ms")
    cols[3].metric("Compressed head time", f"{compressed.milliseconds:.0f} ms")
    st.caption(f"Compressed head: K = {compression.config.codebook_size:,}, {bits_label(compression.config)}, "
               f"{compression.result.storage.ratio:.1f}× smaller, run by {how}. Head times: {times.how}, box "
               f"decoding and NMS included; the backbone, shared by every head, took {backbone_ms:.0f} ms. A new "
               "threshold re-draws from the heads' outputs without running them again. Boxes marked ≠ with a white "
               "halo are where the dense and compressed heads disagree.")
    if detection.agreement_undefined(agree):
        st.caption(detection.UNDEFINED_AGREEMENT)
    columns = st.columns(3 if teacher else 2)
    show_column(columns[0], "Dense KAN head", image, dense, only_dense)
    show_column(columns[1], "Compressed KAN head", image, compressed, only_compressed)
if times.others_ran:
    st.warning(OTHERS_RAN)
if teacher is not None:
    versus = detection.match_f1(teacher.detections, dense.detections)
    show_column(columns[-1], "SSD teacher", image, teacher)
    columns[-1].caption(detection.teacher_time_caption(teacher, times.how))
    columns[-1].caption(f"The dense head finds {versus['matched']} of the teacher's {versus['reference']} "
                        "detections at this threshold (same label, IoU ≥ 0.5).")
runs = {title.replace("Dense", "dense").replace("Compressed", "compressed"): run for title, run in runs.items()}
st.download_button("Download the detections (JSON)", detection.detections_document(name, score, runs),
                   file_name="detections.json", mime="application/json")
