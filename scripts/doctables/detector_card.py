"""The detector card's generated parts (sample_models/ssd_mobilenet_v2/README.md): the shipped head's measured
targets from check_report.json, its distillation reports and candidates, and bench/detector_speed.py's saved run."""
from __future__ import annotations

import json
from pathlib import Path

from sharekan_core.detection.kan_head import LOCATIONS_PER_MAP

from doctables.common import ASSETS, DETECTOR_DIR, head_score, reference_counts, single_box_swing

DETECTOR_SPEED = ASSETS / "runtime" / "detector_speed_t2.json"
# The detection head's targets (its issue's), as check_report.json is judged against them.
MAP50_TARGET = 0.75  # held-out agreement with the teacher, mAP@0.5, at least
CALIBRATION_TOLERANCE = 0.15  # head score / teacher score on matched boxes, within this of 1
INT8_GAP_POINTS = 1.0  # Int8, K = 4,096: at most this many mAP@0.5 points below dense


def detector_speed_table() -> str:
    """The card's speed table, from bench/detector_speed.py's saved run."""
    if not DETECTOR_SPEED.is_file():
        return "No saved run: `python bench/detector_speed.py --json assets/runtime/detector_speed_t2.json`."
    run = json.loads(DETECTOR_SPEED.read_text())
    host = run["host"]
    lines = [f"`bench/detector_speed.py` on {run['photo']}, {host['threads']} thread(s), {host['cpu']}: medians of "
             f"interleaved rounds in one process, interquartile range in brackets. The compressed head is Int"
             f"{run['bits']}, K = {run['codebook_size']:,}.", "",
             "| | predictor only (adapter + head, or the SSD's convolutions) | whole `detect` (backbone + predictor + NMS) |",
             "| --- | --- | --- |"]
    order = ("original conv predictor", "dense KAN head", "dense pre-scaled", "compressed fused kernel")
    for name in sorted(run["predictor"], key=lambda n: order.index(n) if n in order else len(order)):
        cell, whole = run["predictor"][name], run["detect"][name]
        lines.append(f"| {name} | {cell['median_ms']:.1f} ms ({cell['iqr_ms']:.1f}) | "
                     f"{whole['median_ms']:.1f} ms ({whole['iqr_ms']:.1f}) |")
    dense, fused = run["detect"]["dense KAN head"]["median_ms"], run["detect"]["compressed fused kernel"]["median_ms"]
    conv = run["detect"]["original conv predictor"]["median_ms"]
    lines += ["", f"The compressed head makes the whole detect {dense / fused:.2f}x as fast as the dense KAN head; " +
              (f"the original convolutional predictor is still {fused / conv:.1f}x as fast as the compressed head, since a KAN "
               f"head evaluates a spline on every edge at all {sum(LOCATIONS_PER_MAP)} locations." if fused > conv else
               f"it is also {conv / fused:.2f}x as fast as the original convolutional predictor.")]
    return "\n".join(lines)



def shortfall_lines(check: dict) -> list[str]:
    """The card's "where it falls short" bullets, each from a missed target in ``check`` (check_report.json)."""
    lines = []
    photos = check["photos"]
    found = sum(r["teacher_found"] for r in photos)
    wanted = sum(r["teacher_detections"] for r in photos)
    registry = check.get("registry_heldout")
    new_scenes = registry is not None and "skipped" not in registry
    if abs(check["score_ratio_median"] - 1) >= CALIBRATION_TOLERANCE:
        text = (f"- **Scores stay under-confident on new scenes:** on the bundled photos the head scores the teacher's "
                f"boxes at a median {check['score_ratio_median']} of the teacher's score")
        if new_scenes:
            text += f" ({registry['score_ratio_median']} on the registry photos held out from training)"
        lines.append(text + f", outside the target of 1 ± {CALIBRATION_TOLERANCE:g}.")
    if found < wanted:
        text = f"- **Bundled photos at 0.5:** the head finds {found} of the {wanted} teacher boxes."
        if "default_score" in check and check["default_score"] < 0.5:
            default = sum(r["teacher_found_at_default"] for r in photos)
            text += (f" The Detect page's default threshold therefore stays at {check['default_score']}, "
                     f"where it finds {default} of {wanted}.")
        missed = [f"{r['photo'].rsplit('.', 1)[0]} ({', '.join(r['teacher'])}; head "
                  f"{', '.join(head_score(s) for _, s in r['score_pairs']) or 'no box of that class'})"
                  for r in photos if r["teacher_found"] < r["teacher_detections"]]
        lines.append(text + f" Missed: {'; '.join(missed)}.")
    extras = [f"{r['photo'].rsplit('.', 1)[0]} ({r['unmatched_confident']} of the head's {', '.join(r['head'])}; "
              f"teacher {', '.join(r['teacher']) or 'none'})" for r in photos if r["unmatched_confident"]]
    if extras:
        lines.append(f"- **Confident detections the teacher does not make (>= 0.5, bundled photos):** {'; '.join(extras)}.")
    if new_scenes:
        weak = {c: ap for c, ap in registry["class_map50"].items() if ap < 0.5}
        if weak:
            lines.append(f"- **Weak classes on new scenes** (registry photos held out from training, AP@0.5): "
                         f"{', '.join(f'{c} {ap:.2f}' for c, ap in sorted(weak.items(), key=lambda t: t[1]))}.")
    _, counts = reference_counts("teacher_heldout_detections.json")
    few = {c: n for c, n in counts.items() if n <= 2}
    aps = check["dense"]["class_map50"]
    if few:
        parts = [f"{c} {n} {'boxes' if n > 1 else 'box'}, AP {aps.get(c, 0.0):.2f}" for c, n in few.items()]
        lines.append(f"- **Classes resting on one or two held-out boxes:** {', '.join(parts)}; "
                     f"one box's rank moves the 3-class mAP@0.5 by {single_box_swing():.1f} points.")
    int8 = check.get("int8_k4096")
    if int8 is not None and int8["gap_points"] > INT8_GAP_POINTS:
        lines.append(f"- **Int8, K = 4,096:** {int8['gap_points']:.2f} points below dense, outside the "
                     f"{INT8_GAP_POINTS:g}-point target.")
    return lines or ["- Every target above is met."]


def detector_tables() -> str:
    """The model card's measured targets: check_report.json (the shipped head) and the distillation reports."""
    check = json.loads((DETECTOR_DIR / "check_report.json").read_text())
    dense, int8 = check["dense"], check.get("int8_k4096")
    classes = dense["class_map50"]
    found = sum(r["teacher_found"] for r in check["photos"])
    wanted = sum(r["teacher_detections"] for r in check["photos"])
    extra = sum(r["unmatched_confident"] for r in check["photos"])
    verdict = lambda ok: "met" if ok else "missed"  # noqa: E731
    lines = ["Measured by `scripts/check_detection_head.py` on the shipped `kan_head.safetensors` "
             "(`check_report.json`):", "",
             "| target | wanted | this head |", "| --- | --- | --- |",
             f"| held-out agreement, mAP@0.5 | >= {MAP50_TARGET:g} | {dense['map50']:.3f} "
             f"({verdict(dense['map50'] >= MAP50_TARGET)}) |",
             f"| mAP@[.5:.95] | | {dense['map']:.3f} |",
             f"| no class at AP 0 | {', '.join(classes)} > 0 | "
             f"{', '.join(f'{c} {v:.3f}' for c, v in classes.items())} ({verdict(min(classes.values()) > 0)}) |",
             f"| bundled photos: teacher detections >= 0.5 found at 0.5 | {wanted} of {wanted} | {found} of {wanted} "
             f"({verdict(found == wanted)}) |",
             f"| bundled photos: confident detections the teacher lacks | 0 | {extra} ({verdict(extra == 0)}) |",
             *([f"| what the Detect page shows: teacher detections found at its default threshold "
                f"{check['default_score']} | | {sum(r['teacher_found_at_default'] for r in check['photos'])} of {wanted} |"]
               if check.get("default_score", 0.5) < 0.5 else []),
             f"| calibration: head score / teacher score, matched boxes | within {CALIBRATION_TOLERANCE:g} of 1 | "
             f"median {check['score_ratio_median']} "
             f"({verdict(abs(check['score_ratio_median'] - 1) < CALIBRATION_TOLERANCE)}) |"]
    frames = check.get("heldout_frames")
    if frames is not None:
        lines.append(f"| the photo checks on the {frames['images']} held-out video frames (other moments of the "
                     f"training videos) | | {frames['teacher_found']} of {frames['teacher_detections']} found at 0.5, "
                     f"{frames['unmatched_confident']} confident extra, score ratio median {frames['score_ratio_median']} |")
    registry = check.get("registry_heldout")
    if registry is not None and "skipped" not in registry:
        boxes = ", ".join(f"{label} {n}" for label, n in sorted(registry["teacher_boxes"].items(), key=lambda t: -t[1]))
        aps = ", ".join(f"{label} {ap:.2f}" for label, ap in registry["class_map50"].items())
        lines.append(f"| new scenes: {registry['images']} registry photos held out from training ({boxes} teacher "
                     f"boxes) | | mAP@0.5 {registry['map50']:.3f} ({aps}); {registry['teacher_found']} of "
                     f"{registry['teacher_detections']} found at 0.5, {registry['unmatched_confident']} confident "
                     f"extra, score ratio median {registry['score_ratio_median']} |")
    if int8 is not None:
        lines.append(f"| Int8, K = 4,096, compressed domain ({int8['ratio']:.1f}x) | within {INT8_GAP_POINTS:g} point of dense | "
                     f"{int8['map50']:.3f}, {abs(int8['gap_points']):.2f} points {'below' if int8['gap_points'] >= 0 else 'above'} "
                     f"({verdict(int8['gap_points'] <= INT8_GAP_POINTS)}) |")
    if frames is not None and frames["score_ratio_median"] and check["score_ratio_median"] and \
            abs(frames["score_ratio_median"] - 1) < CALIBRATION_TOLERANCE <= 1 - check["score_ratio_median"]:
        lines += ["", f"On the held-out video frames the head is calibrated (score ratio {frames['score_ratio_median']}) "
                  f"and finds {frames['teacher_found']} of the teacher's {frames['teacher_detections']} boxes; on the "
                  f"bundled photos, scenes unlike any it trained on, the ratio falls to {check['score_ratio_median']}. "
                  "The shortfall is generalisation to new scenes, not a calibration offset that a rescaling would fix."]
        if registry is not None and "skipped" not in registry:
            lines[-1] += (f" The registry photos held out from training say the same: agreement {registry['map50']:.3f} "
                          f"there against {dense['map50']:.3f} on the shipped held-out set, whose frames are other "
                          "moments of the training videos.")
    lines += ["", "Per bundled photo at 0.5 (teacher → head; head scores of the teacher's boxes in brackets):", ""]
    for row in check["photos"]:
        pairs = ", ".join(head_score(s) for _, s in row["score_pairs"]) or "no box of that class"
        lines.append(f"- {row['photo']}: {', '.join(row['teacher']) or 'none'} → {', '.join(row['head']) or 'none'} "
                     f"[{pairs}]")
    lines += ["", "Where it falls short (from the same report):", "", *shortfall_lines(check)]
    for name, label in (("distill_report.json", "this head"), ("distill_report_coco_extra.json", "the second head")):
        path = DETECTOR_DIR / name
        if path.is_file():
            report = json.loads(path.read_text())
            stages = earlier_stages() if name == "distill_report.json" else []
            from_shipped = report["init"].endswith("ssd_mobilenet_v2/" + name.replace("distill_report", "kan_head")
                                                   .replace(".json", ".safetensors"))
            start = ("the head shipped before it (the same path, an earlier commit)"
                     + (f", itself trained in the {len(stages)} stages below" if stages else "") if from_shipped
                     else f"the last of the {len(stages)} earlier stages below" if stages else f"`{report['init']}`")
            lines.append(f"\nDistillation of {label} (`{name}`): {report['steps']} steps of {report['images_per_step']} "
                         f"views from {start}, labels {report.get('labels', 'voc')}, "
                         f"class rarity capped at {report.get('max_rarity', 'none')}, {report['source_images']} sources, "
                         f"{report['threads']} thread(s)" + stage_details(report) +
                         f"; {report['cache_seconds_this_run']:.0f} s of caching and "
                         f"{report['train_seconds_this_run']:.0f} s of training.")
            for stage_name, stage in stages:
                origin = ("the head shipped at the time (an earlier commit)"
                          if stage["init"].endswith("ssd_mobilenet_v2/kan_head.safetensors") else "the stage before")
                lines.append(f"- earlier stage `distill_stages/{stage_name}`: {stage['steps']} steps from {origin}"
                             + stage_details(stage) + f", {stage['cache_seconds_this_run']:.0f} s of caching and "
                             f"{stage['train_seconds_this_run']:.0f} s of training")
    lines += candidate_lines()
    return "\n".join(lines)


def chosen_candidate_check() -> dict | None:
    """The check of the candidate run whose distillation report is the shipped one (None without candidates)."""
    folder = DETECTOR_DIR / "distill_candidates"
    shipped = json.loads((DETECTOR_DIR / "distill_report.json").read_text())
    for path in sorted(folder.glob("run_*.distill.json")):
        if json.loads(path.read_text()) == shipped:
            return json.loads(path.with_name(path.name.replace(".distill.", ".check.")).read_text())
    return None


def chosen_check_is_shipped() -> bool:
    """True when the chosen candidate's check says what the shipped check_report.json says."""
    candidate = chosen_candidate_check()
    check = json.loads((DETECTOR_DIR / "check_report.json").read_text())
    return candidate is not None and candidate["dense"] == check["dense"] and \
        candidate["score_ratio_median"] == check["score_ratio_median"]


def candidate_lines() -> list[str]:
    """The runs the shipped head was chosen among (distill_candidates/run_X.{distill,check}.json, each checked by
    check_detection_head.py): their recipe and every target, so the choice and its spread can be read."""
    folder = DETECTOR_DIR / "distill_candidates"
    runs = sorted(folder.glob("run_*.check.json")) if folder.is_dir() else []
    if not runs:
        return []
    lines = ["", f"The {len(runs)} candidate runs the shipped head was chosen among (`distill_candidates/`, each "
             "checked by the same script; a run's start is the shipped head 6 or another run)"
             + ("" if chosen_check_is_shipped() else ". They were checked when chosen, before the detector's "
                "preprocessing became the reference's plain bilinear resize; the shipped head's figures above are "
                "re-measured with it (check_report.json), so its row here is the figures it was chosen on") + ":", "",
             "| run | from | seed | lr | frames' share | plain views | max rarity | held-out mAP@0.5 | bundled photos "
             "found at 0.5 | confident extras | score ratio | chelsea's cat | Int8 K = 4,096 gap (pts) | new scenes "
             "mAP@0.5 | frames found |", "| --- " * 15 + "|"]
    for path in runs:
        name = path.name.split(".")[0].removeprefix("run_")
        check = json.loads(path.read_text())
        recipe = json.loads(path.with_name(f"run_{name}.distill.json").read_text())
        init = recipe["init"]
        start = "head 6" if init.endswith("ssd_mobilenet_v2/kan_head.safetensors") else \
            f"run {Path(init).parent.name.removeprefix('head')}"
        photos = check["photos"]
        cat = next((s for row in photos if row["photo"] == "chelsea.jpg" for t, s in row["score_pairs"]), None)
        registry, frames = check.get("registry_heldout", {}), check["heldout_frames"]
        share = f"{recipe['frame_share']:.0%}" if recipe.get("frame_share") else "natural"
        lines.append(
            f"| {name} | {start} | {recipe['seed']} | {recipe['lr']:g} | {share} | "
            f"{recipe.get('plain_share', 0):.0%} | {recipe['max_rarity']:g} | {check['dense']['map50']:.3f} | "
            f"{sum(r['teacher_found'] for r in photos)} of {sum(r['teacher_detections'] for r in photos)} | "
            f"{sum(r['unmatched_confident'] for r in photos)} | {check['score_ratio_median']} | "
            f"{head_score(cat) if cat is not None else 'no box'} | {check['int8_k4096']['gap_points']:.2f} | "
            f"{registry.get('map50', float('nan')):.3f} | {frames['teacher_found']} of {frames['teacher_detections']} |")
    return lines


def earlier_stages() -> list[tuple[str, dict]]:
    """The distillation reports of the stages before the shipped head's last run, oldest first."""
    folder = DETECTOR_DIR / "distill_stages"
    return [(p.name, json.loads(p.read_text())) for p in sorted(folder.glob("stage*.json"))] if folder.is_dir() else []


def stage_details(report: dict) -> str:
    """What a distillation run varied beyond the base recipe: seed, adapter training, frame and plain-view share."""
    parts = [f"seed {report['seed']}", f"lr {report['lr']}"]
    if report.get("adapter_trained"):
        parts.append("adapter trained with the head")
    if report.get("frame_share") is not None:
        parts.append(f"video frames held {report['frame_share']:.0%} of the draws")
    if report.get("plain_share"):
        parts.append(f"{report['plain_share']:.0%} of fresh views whole photos or frames as detect sees them")
    return " (" + ", ".join(parts) + ")"




def reference_boxes(file_name: str) -> str:
    """'N images with M boxes: n1 label1, ...' of a held-out teacher reference in the detector folder."""
    reference, counts = reference_counts(file_name)
    by_count = ", ".join(f"{n} {label}" for label, n in sorted(counts.items(), key=lambda t: -t[1]))
    return f"{len(reference['images'])} images with {sum(counts.values())} boxes: {by_count}"
