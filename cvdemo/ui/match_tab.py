"""The Matching tab: how DETR assigns one query to each ground-truth object (Hungarian matching), and the loss.

`/match` (source, validation index, image, ground truth, model, three cost weights) runs the model once and
keeps every decoder layer's predictions in a `gr.State`; the weight sliders, the decoder layer and the
Hungarian step controls then only recompute from that state with the `cvdemo` library.
"""

from __future__ import annotations

import html
from pathlib import Path

import gradio as gr
import numpy as np

from cvdemo.hungarian import HungarianStep
from cvdemo.ui import matching_session as ms
from cvdemo.ui.matching_figures import cost_figure, matching_image, one_to_many_image, step_figure
from cvdemo.ui.model_calls import call_model
from cvdemo.ui.models_registry import ModelRegistry, model_note
from cvdemo.ui.uploads import load_upload
from cvdemo.ui.zerogpu import gpu_task

STATE_SECONDS = 1800  # a session's run is dropped after 30 minutes without use
SHAPES, UPLOAD = "Shapes validation image", "Your image + boxes"
LOSS_COLUMNS = ["query", "matched to", "target class", "p(target)", "−p (matcher)", "−log p (CE)", "CE weight",
                "L1", "1 − GIoU", "share of loss"]
COMPARE_COLUMNS = ["GT", "one-to-many positives (IoU)", "kept after NMS", "one-to-one (Hungarian)"]
PLAY_SECONDS = 0.8

INTRO = """DETR predicts a fixed set of **object queries** and is trained with a **set loss**: first each
ground-truth object gets exactly one query (the **Hungarian matching**, minimising a cost of class, L1 and GIoU
terms), then matched queries learn their object and all others learn *no object*. Pick a validation image of
the shapes set (or upload an image and type its boxes), move the **cost weights** to re-solve the matching
(the model does not run again), and step through the Hungarian algorithm."""

GT_HELP = ("One object per line: `label x0 y0 x1 y1` in pixels of the image (top-left, bottom-right corner); "
           "the label is a class name or its index. Filled in for validation images.")

P_VS_LOG_P = """#### Why −p in the matching cost but −log p in the loss?
The **matcher** uses **−p(class)**: it is bounded in [−1, 0], on the same scale as the box terms, so one
confident mistake (p ≈ 0) cannot dominate the whole assignment; −log p would be unbounded there (−log 0.001 ≈ 6.9)
and would decide the matching on its own. The **loss** then uses the cross-entropy **−log p**, whose gradient
stays strong when p is small, which is what training needs. Compare the two columns in the table above: −p is
near −1 for a good match while −log p is near 0. Unmatched queries are trained towards *no object* with weight
`eos_coef` = 0.1, so the many empty queries do not drown the few real ones; the box losses (L1, 1 − GIoU) only
count for matched queries, divided by the number of objects."""


def _weights(w_cls, w_l1, w_giou) -> tuple[float, float, float]:
    weights = (float(w_cls), float(w_l1), float(w_giou))
    if not any(weights):
        raise gr.Error("All three cost weights are 0: there is nothing to minimise. Set at least one above 0.",
                       title="Cost weights")
    return weights


def _layer_choices(num_layers: int) -> list[tuple[str, int]]:
    """Decoder layers, 1-based; the last is the model's output, the others its aux outputs."""
    return [(f"{i} (last: the model's output)" if i == num_layers else f"{i} (aux output)", i)
            for i in range(1, num_layers + 1)]


def _layer_index(run: ms.MatchRun, layer) -> int:
    return min(max(int(layer or run.num_layers), 1), run.num_layers) - 1


def _summary(run: ms.MatchRun, m: ms.Matching, notes: list[str]) -> str:
    n, q = len(run.gt_labels), run.num_queries
    h, w = run.image.shape[:2]
    text = (f"**{n} object{'s' if n != 1 else ''}, {q} queries:** {len(m.pred_idx)} matched, "
            f"{q - len(m.pred_idx)} trained as *no object* · total matching cost of the assignment "
            f"**{m.total_cost:.3f}** · decoder layer {m.layer + 1} of {run.num_layers}  \n"
            f"{html.escape(run.source)} ({w}×{h}) · {run.model_name} · model {run.model_ms:.0f} ms")
    if notes:
        text += "  \n*" + html.escape("; ".join(notes)) + "*"
    return text


def _loss_rows(run: ms.MatchRun, m: ms.Matching, view: ms.LossView) -> list[list]:
    b = view.breakdown
    probs = run.probs(m.layer)
    cls_cost = m.costs.cls.numpy()
    order = list(m.pred_idx[np.argsort(m.tgt_idx)]) + [q for q in range(run.num_queries) if b.matched_gt[q] < 0]
    rows = []
    for q in order:
        k, target = int(b.matched_gt[q]), int(b.target_class[q])
        matched = k >= 0
        rows.append([f"q{q}", f"GT {k} · {run.label_name(run.gt_labels[k])}" if matched else "—",
                     run.label_name(target), round(float(probs[q, target]), 3),
                     round(float(cls_cost[q, k]), 3) if matched else "",
                     round(float(b.ce[q]), 3), round(float(b.ce_weight[q]), 3),
                     round(float(b.l1[q]), 3) if matched else "", round(1 - float(b.giou[q]), 3) if matched else "",
                     round(float(b.total[q]), 4)])
    return rows


def _loss_totals(view: ms.LossView) -> str:
    lo = view.losses
    w = ms.LOSS_WEIGHTS
    return (f"**loss_ce** {lo['loss_ce']:.4f} · **loss_bbox** (L1) {lo['loss_bbox']:.4f} · "
            f"**loss_giou** {lo['loss_giou']:.4f} → weighted total {w['loss_ce']:g}·CE + {w['loss_bbox']:g}·L1 + "
            f"{w['loss_giou']:g}·GIoU = **{lo['total']:.4f}** (the sum of the last column). The loss weights stay "
            "at DETR's 1, 5, 2; the sliders change only the matching cost.")


def _layers_table(run: ms.MatchRun, weights) -> tuple[dict, str]:
    per_layer = ms.matches_per_layer(run, weights)  # [L, n]
    last = per_layer[-1]
    headers = ["GT"] + [c[0] for c in _layer_choices(run.num_layers)]
    rows = [[f"GT {k} · {run.label_name(run.gt_labels[k])}"]
            + [f"q{per_layer[layer, k]}" + ("" if per_layer[layer, k] == last[k] else " ≠ last")
               for layer in range(run.num_layers)] for k in range(len(run.gt_labels))]
    changed = int((per_layer[:-1] != last).sum())
    note = (f"{changed} of {per_layer[:-1].size} earlier-layer matches differ from the last layer's. Every layer "
            "is matched on its own (DETR's auxiliary losses), so an early layer may pick other queries.")
    return {"headers": headers, "data": rows}, note


def _comparison(run: ms.MatchRun, m: ms.Matching):
    otm = ms.one_to_many(run, m.layer)
    rows = []
    for k in range(len(run.gt_labels)):
        positives = np.flatnonzero(otm.assignment.gt_index == k)
        kept = [q for q in positives if otm.nms_kept[q]]
        hungarian = m.pred_idx[m.tgt_idx == k]
        rows.append([f"GT {k} · {run.label_name(run.gt_labels[k])}",
                     " ".join(f"q{q}" for q in positives) or "none", " ".join(f"q{q}" for q in kept) or "none",
                     " ".join(f"q{q}" for q in hungarian)])
    n = len(run.gt_labels)
    text = (f"**One-to-many** (Faster R-CNN's rule: every query with IoU ≥ {ms.IOU_THRESHOLD} to an object, and "
            f"each object's best-overlapping queries): {int(otm.assignment.positive.sum())} positives for {n} "
            f"objects, **{otm.duplicates} duplicate{'s' if otm.duplicates != 1 else ''}**; "
            f"after NMS {int(otm.nms_kept.sum())} kept, "
            f"**{otm.duplicates_after_nms} duplicate{'s' if otm.duplicates_after_nms != 1 else ''}** left.  \n"
            f"**One-to-one** (Hungarian): {len(m.pred_idx)} queries for {n} objects, **0 duplicates** by "
            "construction, so DETR learns to predict each object once and needs no NMS.")
    return one_to_many_image(run, m.layer, otm), matching_image(run, m, show_unmatched=False), rows, text


def _step_view(run: ms.MatchRun, steps: list[HungarianStep], index) -> tuple:
    i = min(max(int(index or 0), 0), len(steps) - 1)
    step = steps[i]
    text = (f"**Step {i + 1} of {len(steps)} · {step.kind.replace('_', ' ')}**  \n"
            f"{html.escape(step.explanation)}  \n*(row, column) = (query q, ground truth GT k), both from 0*")
    return i, step_figure(run, step), text


def _views(run: ms.MatchRun, layer: int, weights, notes: list[str]) -> tuple:
    """Everything derived from a run, for one layer and cost weights (the outputs of `VIEW_OUTPUTS` order)."""
    m = ms.match(run, layer, weights)
    steps = ms.solve_steps(m)
    i, step_fig, step_text = _step_view(run, steps, 0)
    view = ms.losses(run, m)
    layers, layers_note = _layers_table(run, weights)
    otm_img, oto_img, compare_rows, compare_text = _comparison(run, m)
    return (matching_image(run, m), _summary(run, m, notes), cost_figure(run, m), steps,
            gr.Slider(minimum=0, maximum=len(steps) - 1, value=i, step=1), step_fig, step_text,
            _loss_rows(run, m, view), _loss_totals(view), layers, layers_note, otm_img, oto_img, compare_rows,
            compare_text)


def build_match_tab(registry: ModelRegistry, examples_dir: Path) -> None:
    """Lay out the tab inside the current gr.Blocks / gr.Tab context and wire its events.

    examples_dir: unused for now (the tab generates its own validation images); kept for the tabs' common
    signature."""
    names = registry.names("detect")
    num_val = len(ms.validation_set())
    gr.Markdown(INTRO)
    run_state = gr.State(None, time_to_live=STATE_SECONDS)
    steps_state = gr.State(None, time_to_live=STATE_SECONDS)
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=300):
            model = gr.Dropdown(names, value=names[0] if names else None, label="Model", elem_id="match-model")
            note = gr.Markdown(model_note(registry, names[0]) if names else "No detection model configured.")
            source = gr.Radio([SHAPES, UPLOAD], value=SHAPES, label="Image", elem_id="match-source")
            val_index = gr.Slider(0, num_val - 1, value=0, step=1, label="Validation image",
                                  info=f"one of the {num_val} generated validation images of the shapes set",
                                  elem_id="match-index")
            image_in = gr.Image(type="filepath", image_mode=None, sources=["upload", "clipboard"], height=220,
                                label="Your image (PNG, JPEG, WebP, GIF, BMP or TIFF)", visible=False,
                                elem_id="match-input")
            gt_text = gr.Textbox(lines=4, max_lines=12, label="Ground truth", info=GT_HELP,
                                 placeholder="circle 10 12 50 60\nstar 70 20 110 64", elem_id="match-gt")
            with gr.Group():
                w_cls = gr.Slider(0, 10, value=ms.DEFAULT_WEIGHTS[0], step=0.5, label="Weight of the class term −p")
                w_l1 = gr.Slider(0, 10, value=ms.DEFAULT_WEIGHTS[1], step=0.5, label="Weight of the L1 term")
                w_giou = gr.Slider(0, 10, value=ms.DEFAULT_WEIGHTS[2], step=0.5, label="Weight of the −GIoU term")
            layer = gr.Dropdown([], label="Decoder layer", info="earlier layers are DETR's auxiliary outputs",
                                elem_id="match-layer")
            match_btn = gr.Button("Match", variant="primary", elem_id="match-button")
        with gr.Column(scale=3, min_width=360):
            match_img = gr.Image(label="Ground truth (thick) and the query matched to each; grey: no object",
                                 interactive=False, format="png", elem_id="match-output", buttons=["fullscreen"])
            summary = gr.Markdown(elem_id="match-summary")
    cost_plot = gr.Plot(label="Cost matrices (queries × ground truth)", elem_id="match-costs")

    gr.Markdown("### The Hungarian algorithm, step by step (on the total cost)")
    with gr.Row():
        back_btn = gr.Button("◀ Back", size="sm", elem_id="match-back")
        step_btn = gr.Button("Step ▶", size="sm", variant="primary", elem_id="match-step")
        play_btn = gr.Button("Play ▶▶", size="sm", elem_id="match-play")
        pause_btn = gr.Button("Pause", size="sm", elem_id="match-pause")
        step_slider = gr.Slider(0, 1, value=0, step=1, label="Step", scale=3, elem_id="match-step-index")
    with gr.Row(equal_height=False):
        step_plot = gr.Plot(show_label=False, scale=3, elem_id="match-step-plot")
        step_text = gr.Markdown(elem_id="match-step-text")
    timer = gr.Timer(PLAY_SECONDS, active=False)

    gr.Markdown("### The loss of each query (with this matching)")
    loss_table = gr.Dataframe(headers=LOSS_COLUMNS, interactive=False, max_height=320, elem_id="match-losses")
    loss_totals = gr.Markdown(elem_id="match-loss-totals")
    gr.Markdown(P_VS_LOG_P)

    gr.Markdown("### Matches in every decoder layer")
    layers_table = gr.Dataframe(interactive=False, elem_id="match-layers")
    layers_note = gr.Markdown()

    gr.Markdown("### One-to-many IoU assignment + NMS vs one-to-one matching")
    with gr.Row():
        otm_img = gr.Image(label="One-to-many: the queries assigned to each object by IoU (grey caption: removed "
                           "by NMS)", interactive=False, format="png", elem_id="match-one-to-many")
        oto_img = gr.Image(label="One-to-one: the Hungarian matching", interactive=False, format="png",
                           elem_id="match-one-to-one")
    compare_table = gr.Dataframe(headers=COMPARE_COLUMNS, interactive=False, elem_id="match-compare")
    compare_text = gr.Markdown(elem_id="match-compare-text")

    view_outputs = [match_img, summary, cost_plot, steps_state, step_slider, step_plot, step_text, loss_table,
                    loss_totals, layers_table, layers_note, otm_img, oto_img, compare_table, compare_text]

    @gpu_task
    def infer(name: str, pixels: np.ndarray, boxes: np.ndarray, labels: np.ndarray, src: str) -> ms.MatchRun:
        return ms.run_matching_model(registry.get(name), pixels, boxes, labels, name, src)

    def run_match(src: str, index, image_payload, gt: str, model_name: str, wc, wl, wg,
                  progress=gr.Progress()):  # noqa: B008 - how Gradio asks for a progress tracker
        weights = _weights(wc, wl, wg)
        notes: list[str] = []
        detr = call_model(registry, lambda n, _: registry.get(n), model_name, None, progress)
        if src == UPLOAD:
            loaded = load_upload(image_payload)
            pixels, notes = loaded.pixels, list(loaded.notes)
            shrink = max(pixels.shape[:2]) / max(loaded.original_size)  # < 1 when the upload was downsized
            size = (round(pixels.shape[0] / shrink), round(pixels.shape[1] / shrink))
            try:
                boxes, labels = ms.parse_ground_truth(gt or "", detr.config.id2label, size, detr.config.num_queries)
            except ms.GroundTruthError as e:
                raise gr.Error(html.escape(str(e), quote=False), title="Check the ground truth",
                               print_exception=False) from None
            boxes = boxes * shrink
            label = "your image"
        else:
            try:
                pixels, boxes, labels = ms.validation_sample(int(index or 0), detr.config.id2label)
            except (IndexError, ms.GroundTruthError) as e:
                raise gr.Error(html.escape(str(e), quote=False), title="Cannot use this validation image",
                               print_exception=False) from None
            gt = ms.format_ground_truth(boxes, labels, detr.config.id2label)
            label = f"shapes validation image {int(index or 0)}"
        run = infer(model_name, pixels, boxes, labels, label)
        last = run.num_layers
        return (*_views(run, last - 1, weights, notes), gt,
                gr.Dropdown(choices=_layer_choices(last), value=last), run, gr.Timer(active=False))

    def resolve(run: ms.MatchRun | None, layer_value, wc, wl, wg):
        if run is None:
            return tuple(gr.skip() for _ in view_outputs)
        return _views(run, _layer_index(run, layer_value), _weights(wc, wl, wg), [])

    def show_step(run, steps, index, delta: int):
        if run is None or not steps:
            return gr.skip(), gr.skip(), gr.skip()
        return _step_view(run, steps, int(index or 0) + delta)

    def tick(run, steps, index):
        if run is None or not steps:
            return gr.skip(), gr.skip(), gr.skip(), gr.Timer(active=False)
        i, fig, text = _step_view(run, steps, int(index or 0) + 1)
        return i, fig, text, gr.Timer(active=i < len(steps) - 1)

    match_inputs = [source, val_index, image_in, gt_text, model, w_cls, w_l1, w_giou]
    gr.on([match_btn.click, val_index.release, model.change], run_match, inputs=match_inputs,
          outputs=[*view_outputs, gt_text, layer, run_state, timer], api_name="match", preprocess=False,
          concurrency_id="gpu", concurrency_limit=1, show_progress_on=[match_img], trigger_mode="always_last")
    model.change(lambda name: model_note(registry, name), model, note, queue=False, api_visibility="private")
    source.input(lambda s: (gr.Slider(visible=s == SHAPES), gr.Image(visible=s == UPLOAD),
                            "" if s == UPLOAD else gr.skip()),
                 source, [val_index, image_in, gt_text], queue=False, api_visibility="private")
    # .input / .release (user actions only): /match updating these must not start a second event
    gr.on([w_cls.release, w_l1.release, w_giou.release, layer.input], resolve,
          [run_state, layer, w_cls, w_l1, w_giou], view_outputs, show_progress="hidden",
          trigger_mode="always_last", api_name="rematch", api_visibility="undocumented")
    step_outputs = [step_slider, step_plot, step_text]
    step_btn.click(lambda r, s, i: show_step(r, s, i, 1), [run_state, steps_state, step_slider], step_outputs,
                   show_progress="hidden", api_visibility="private")
    back_btn.click(lambda r, s, i: show_step(r, s, i, -1), [run_state, steps_state, step_slider], step_outputs,
                   show_progress="hidden", api_visibility="private")
    step_slider.release(lambda r, s, i: show_step(r, s, i, 0), [run_state, steps_state, step_slider],
                        step_outputs, show_progress="hidden", trigger_mode="always_last", api_visibility="private")
    play_btn.click(lambda: gr.Timer(active=True), None, timer, queue=False, api_visibility="private")
    pause_btn.click(lambda: gr.Timer(active=False), None, timer, queue=False, api_visibility="private")
    timer.tick(tick, [run_state, steps_state, step_slider], [*step_outputs, timer], show_progress="hidden",
               api_visibility="private")
