"""The Matching tab: how DETR assigns one query to each ground-truth object (Hungarian matching), and the loss.

`/match` (source, validation index, image, ground truth, model, three cost weights) runs the model once and
keeps every decoder layer's predictions in a `gr.State`; the weight sliders, the decoder layer and the
Hungarian step controls then only recompute from that state with the `cvdemo` library. Text in English or
Simplified Chinese (`cvdemo/ui/texts/match.py`), following the browser's language.
"""

from __future__ import annotations

import html
from pathlib import Path

import gradio as gr
import numpy as np

from cvdemo.hungarian import HungarianStep
from cvdemo.ui import matching_session as ms
from cvdemo.ui.i18n import DEFAULT_LOCALE, locale_of
from cvdemo.ui.matching_figures import cost_figure, matching_image, one_to_many_image, step_figure
from cvdemo.ui.model_calls import call_model
from cvdemo.ui.models_registry import ModelRegistry, model_note
from cvdemo.ui.texts.common import T as C
from cvdemo.ui.texts.match import T
from cvdemo.ui.uploads import load_upload
from cvdemo.ui.zerogpu import gpu_task

STATE_SECONDS = 1800  # a session's run is dropped after 30 minutes without use
# the Image radio's values (the API's `source` input, the same in every language) and their texts' keys
SHAPES, UPLOAD = "Shapes validation image", "Your image + boxes"
SOURCE_KEYS = {SHAPES: "source_shapes", UPLOAD: "source_upload"}
LOSS_COLUMN_KEYS = ["col_query", "col_matched_to", "col_target_class", "col_p_target", "col_neg_p", "col_neg_log_p",
                    "col_ce_weight", "col_l1", "col_giou", "col_share"]
COMPARE_COLUMN_KEYS = ["col_gt", "col_positives", "col_kept", "col_hungarian"]
LOSS_COLUMNS = [T.text(key) for key in LOSS_COLUMN_KEYS]  # in English
COMPARE_COLUMNS = [T.text(key) for key in COMPARE_COLUMN_KEYS]
PLAY_SECONDS = 0.8


def _source_choices(locale: str) -> list[tuple[str, str]]:
    return [(T.text(key, locale), value) for value, key in SOURCE_KEYS.items()]


def _columns(keys: list[str], locale: str) -> list[str]:
    return [T.text(key, locale) for key in keys]


def _weights(w_cls, w_l1, w_giou, locale: str) -> tuple[float, float, float]:
    weights = (float(w_cls), float(w_l1), float(w_giou))
    if not any(weights):
        raise gr.Error(T.text("weights_zero", locale), title=T.text("weights_title", locale))
    return weights


def _layer_choices(num_layers: int, locale: str) -> list[tuple[str, int]]:
    """Decoder layers, 1-based; the last is the model's output, the others its aux outputs."""
    return [(T.text("layer_last", locale, i=i) if i == num_layers else T.text("layer_aux", locale, i=i), i)
            for i in range(1, num_layers + 1)]


def _layer_index(run: ms.MatchRun, layer) -> int:
    return min(max(int(layer or run.num_layers), 1), run.num_layers) - 1


def _gt_name(run: ms.MatchRun, k: int, locale: str) -> str:
    return f"GT {k} · {run.label_name(run.gt_labels[k], locale)}"


def _summary(run: ms.MatchRun, m: ms.Matching, notes: list[str], locale: str) -> str:
    n, q = len(run.gt_labels), run.num_queries
    h, w = run.image.shape[:2]
    objects = T.text("objects_one" if n == 1 else "objects_many", locale, n=n)
    text = (T.text("summary", locale, objects=objects, q=q, matched=len(m.pred_idx),
                   unmatched=q - len(m.pred_idx), cost=m.total_cost, layer=m.layer + 1, layers=run.num_layers)
            + "  \n" + T.text("summary_run", locale, source=html.escape(run.source), w=w, h=h,
                              model=run.model_name, ms=run.model_ms))
    if notes:
        text += "  \n*" + html.escape("; ".join(notes)) + "*"
    return text


def _loss_rows(run: ms.MatchRun, m: ms.Matching, view: ms.LossView, locale: str) -> dict:
    b = view.breakdown
    probs = run.probs(m.layer)
    cls_cost = m.costs.cls.numpy()
    order = list(m.pred_idx[np.argsort(m.tgt_idx)]) + [q for q in range(run.num_queries) if b.matched_gt[q] < 0]
    rows = []
    for q in order:
        k, target = int(b.matched_gt[q]), int(b.target_class[q])
        matched = k >= 0
        rows.append([f"q{q}", _gt_name(run, k, locale) if matched else "—",
                     run.label_name(target, locale), round(float(probs[q, target]), 3),
                     round(float(cls_cost[q, k]), 3) if matched else "",
                     round(float(b.ce[q]), 3), round(float(b.ce_weight[q]), 3),
                     round(float(b.l1[q]), 3) if matched else "", round(1 - float(b.giou[q]), 3) if matched else "",
                     round(float(b.total[q]), 4)])
    return {"headers": _columns(LOSS_COLUMN_KEYS, locale), "data": rows}


def _loss_totals(view: ms.LossView, locale: str) -> str:
    lo = view.losses
    w = ms.LOSS_WEIGHTS
    return T.text("loss_totals", locale, ce=lo["loss_ce"], bbox=lo["loss_bbox"], giou=lo["loss_giou"],
                  w_ce=w["loss_ce"], w_bbox=w["loss_bbox"], w_giou=w["loss_giou"], total=lo["total"])


def _layers_table(run: ms.MatchRun, weights, locale: str) -> tuple[dict, str]:
    per_layer = ms.matches_per_layer(run, weights)  # [L, n]
    last = per_layer[-1]
    headers = [T.text("col_gt", locale)] + [c[0] for c in _layer_choices(run.num_layers, locale)]
    differs = " " + T.text("differs_from_last", locale)
    rows = [[_gt_name(run, k, locale)]
            + [f"q{per_layer[layer, k]}" + ("" if per_layer[layer, k] == last[k] else differs)
               for layer in range(run.num_layers)] for k in range(len(run.gt_labels))]
    changed = int((per_layer[:-1] != last).sum())
    note = T.text("layers_note", locale, changed=changed, total=per_layer[:-1].size)
    return {"headers": headers, "data": rows}, note


def _comparison(run: ms.MatchRun, m: ms.Matching, locale: str):
    otm = ms.one_to_many(run, m.layer)
    rows = []
    none = T.text("none", locale)
    for k in range(len(run.gt_labels)):
        positives = np.flatnonzero(otm.assignment.gt_index == k)
        kept = [q for q in positives if otm.nms_kept[q]]
        hungarian = m.pred_idx[m.tgt_idx == k]
        rows.append([_gt_name(run, k, locale),
                     " ".join(f"q{q}" for q in positives) or none, " ".join(f"q{q}" for q in kept) or none,
                     " ".join(f"q{q}" for q in hungarian)])

    def duplicates(count: int) -> str:
        return T.text("duplicates_one" if count == 1 else "duplicates_many", locale, n=count)

    text = T.text("comparison", locale, iou=ms.IOU_THRESHOLD, positives=int(otm.assignment.positive.sum()),
                  n=len(run.gt_labels), duplicates=duplicates(otm.duplicates), kept=int(otm.nms_kept.sum()),
                  duplicates_after=duplicates(otm.duplicates_after_nms), matched=len(m.pred_idx))
    table = {"headers": _columns(COMPARE_COLUMN_KEYS, locale), "data": rows}
    return one_to_many_image(run, m.layer, otm), matching_image(run, m, show_unmatched=False), table, text


def _step_view(run: ms.MatchRun, steps: list[HungarianStep], index, locale: str) -> tuple:
    i = min(max(int(index or 0), 0), len(steps) - 1)
    step = steps[i]
    text = (T.text("step_header", locale, i=i + 1, n=len(steps), kind=ms.step_kind(step, locale)) + "  \n"
            + html.escape(ms.step_explanation(steps, i, locale)) + "  \n" + T.text("step_indices", locale))
    return i, step_figure(run, step, locale), text


def _views(run: ms.MatchRun, layer: int, weights, notes: list[str], locale: str) -> tuple:
    """Everything derived from a run, for one layer and cost weights (the outputs of `VIEW_OUTPUTS` order)."""
    m = ms.match(run, layer, weights)
    steps = ms.solve_steps(m)
    i, step_fig, step_text = _step_view(run, steps, 0, locale)
    view = ms.losses(run, m)
    layers, layers_note = _layers_table(run, weights, locale)
    otm_img, oto_img, compare_rows, compare_text = _comparison(run, m, locale)
    return (matching_image(run, m), _summary(run, m, notes, locale), cost_figure(run, m, locale), steps,
            gr.Slider(minimum=0, maximum=len(steps) - 1, value=i, step=1), step_fig, step_text,
            _loss_rows(run, m, view, locale), _loss_totals(view, locale), layers, layers_note, otm_img, oto_img,
            compare_rows, compare_text)


def build_match_tab(registry: ModelRegistry, examples_dir: Path) -> None:
    """Lay out the tab inside the current gr.Blocks / gr.Tab context and wire its events.

    examples_dir: unused for now (the tab generates its own validation images); kept for the tabs' common
    signature."""
    names = registry.names("detect")
    num_val = len(ms.validation_set())
    gr.Markdown(T("intro"))
    run_state = gr.State(None, time_to_live=STATE_SECONDS)
    steps_state = gr.State(None, time_to_live=STATE_SECONDS)
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=300):
            model = gr.Dropdown(names, value=names[0] if names else None, label=C("model"), elem_id="match-model")
            # the model's note is written in the user's language on page load (`localize`)
            note = gr.Markdown("" if names else C("no_detection_model"))
            source = gr.Radio(_source_choices(DEFAULT_LOCALE), value=SHAPES, label=T("source_label"),
                              elem_id="match-source")
            val_index = gr.Slider(0, num_val - 1, value=0, step=1, label=T("val_index_label"),
                                  info=T("val_index_info_any"), elem_id="match-index")
            image_in = gr.Image(type="filepath", image_mode=None, sources=["upload", "clipboard"], height=220,
                                label=T("image_label"), visible=False, elem_id="match-input")
            gt_text = gr.Textbox(lines=4, max_lines=12, label=T("gt_label"), info=T("gt_help"),
                                 placeholder=T("gt_placeholder"), elem_id="match-gt")
            with gr.Group():
                w_cls = gr.Slider(0, 10, value=ms.DEFAULT_WEIGHTS[0], step=0.5, label=T("weight_class"))
                w_l1 = gr.Slider(0, 10, value=ms.DEFAULT_WEIGHTS[1], step=0.5, label=T("weight_l1"))
                w_giou = gr.Slider(0, 10, value=ms.DEFAULT_WEIGHTS[2], step=0.5, label=T("weight_giou"))
            layer = gr.Dropdown([], label=T("layer_label"), info=T("layer_info"), elem_id="match-layer")
            match_btn = gr.Button(T("match_button"), variant="primary", elem_id="match-button")
        with gr.Column(scale=3, min_width=360):
            match_img = gr.Image(label=T("match_image_label"), interactive=False, format="png",
                                 elem_id="match-output", buttons=["fullscreen"])
            summary = gr.Markdown(elem_id="match-summary")
    cost_plot = gr.Plot(label=T("cost_plot_label"), elem_id="match-costs")

    gr.Markdown(T("steps_heading"))
    with gr.Row():
        back_btn = gr.Button(T("back_button"), size="sm", elem_id="match-back")
        step_btn = gr.Button(T("step_button"), size="sm", variant="primary", elem_id="match-step")
        play_btn = gr.Button(T("play_button"), size="sm", elem_id="match-play")
        pause_btn = gr.Button(T("pause_button"), size="sm", elem_id="match-pause")
        step_slider = gr.Slider(0, 1, value=0, step=1, label=T("step_slider_label"), scale=3,
                                elem_id="match-step-index")
    with gr.Row(equal_height=False):
        step_plot = gr.Plot(show_label=False, scale=3, elem_id="match-step-plot")
        step_text = gr.Markdown(elem_id="match-step-text")
    timer = gr.Timer(PLAY_SECONDS, active=False)

    gr.Markdown(T("loss_heading"))
    loss_table = gr.Dataframe(headers=LOSS_COLUMNS, interactive=False, max_height=320, elem_id="match-losses")
    loss_totals = gr.Markdown(elem_id="match-loss-totals")
    gr.Markdown(T("p_vs_log_p"))

    gr.Markdown(T("layers_heading"))
    layers_table = gr.Dataframe(interactive=False, elem_id="match-layers")
    layers_note = gr.Markdown()

    gr.Markdown(T("compare_heading"))
    with gr.Row():
        otm_img = gr.Image(label=T("one_to_many_label"), interactive=False, format="png",
                           elem_id="match-one-to-many")
        oto_img = gr.Image(label=T("one_to_one_label"), interactive=False, format="png", elem_id="match-one-to-one")
    compare_table = gr.Dataframe(headers=COMPARE_COLUMNS, interactive=False, elem_id="match-compare")
    compare_text = gr.Markdown(elem_id="match-compare-text")

    view_outputs = [match_img, summary, cost_plot, steps_state, step_slider, step_plot, step_text, loss_table,
                    loss_totals, layers_table, layers_note, otm_img, oto_img, compare_table, compare_text]

    def note_for(name: str | None, locale: str) -> str:
        return model_note(registry, name, locale) if names else C.text("no_detection_model", locale)

    def localize(request: gr.Request):
        """On page load: what build time could only write in English, in the user's language."""
        locale = locale_of(request)
        return (note_for(names[0] if names else None, locale),
                gr.Radio(choices=_source_choices(locale), value=SHAPES),
                gr.Slider(info=T.text("val_index_info", locale, n=num_val)),
                {"headers": _columns(LOSS_COLUMN_KEYS, locale), "data": []},
                {"headers": _columns(COMPARE_COLUMN_KEYS, locale), "data": []})

    @gpu_task
    def infer(name: str, pixels: np.ndarray, boxes: np.ndarray, labels: np.ndarray, src: str) -> ms.MatchRun:
        return ms.run_matching_model(registry.get(name), pixels, boxes, labels, name, src)

    def run_match(src: str, index, image_payload, gt: str, model_name: str, wc, wl, wg, request: gr.Request,
                  progress=gr.Progress()):  # noqa: B008 - how Gradio asks for a progress tracker
        locale = locale_of(request)
        weights = _weights(wc, wl, wg, locale)
        notes: list[str] = []
        detr = call_model(registry, lambda n, _: registry.get(n), model_name, None, progress, locale=locale)
        if src == UPLOAD:
            loaded = load_upload(image_payload, locale=locale)
            pixels, notes = loaded.pixels, list(loaded.notes)
            shrink = max(pixels.shape[:2]) / max(loaded.original_size)  # < 1 when the upload was downsized
            size = (round(pixels.shape[0] / shrink), round(pixels.shape[1] / shrink))
            try:
                boxes, labels = ms.parse_ground_truth(gt or "", detr.config.id2label, size, detr.config.num_queries,
                                                      locale=locale)
            except ms.GroundTruthError as e:
                raise gr.Error(html.escape(str(e), quote=False), title=T.text("gt_error_title", locale),
                               print_exception=False) from None
            boxes = boxes * shrink
            label = T.text("source_yours", locale)
        else:
            try:
                pixels, boxes, labels = ms.validation_sample(int(index or 0), detr.config.id2label, locale=locale)
            except (IndexError, ms.GroundTruthError) as e:
                raise gr.Error(html.escape(str(e), quote=False), title=T.text("validation_error_title", locale),
                               print_exception=False) from None
            gt = ms.format_ground_truth(boxes, labels, detr.config.id2label)
            label = T.text("source_validation", locale, i=int(index or 0))
        run = infer(model_name, pixels, boxes, labels, label)
        last = run.num_layers
        return (*_views(run, last - 1, weights, notes, locale), gt,
                gr.Dropdown(choices=_layer_choices(last, locale), value=last), run, gr.Timer(active=False))

    def resolve(run: ms.MatchRun | None, layer_value, wc, wl, wg, request: gr.Request):
        if run is None:
            return tuple(gr.skip() for _ in view_outputs)
        locale = locale_of(request)
        return _views(run, _layer_index(run, layer_value), _weights(wc, wl, wg, locale), [], locale)

    def show_step(run, steps, index, delta: int, request):
        if run is None or not steps:
            return gr.skip(), gr.skip(), gr.skip()
        return _step_view(run, steps, int(index or 0) + delta, locale_of(request))

    def step_forward(run, steps, index, request: gr.Request):
        return show_step(run, steps, index, 1, request)

    def step_back(run, steps, index, request: gr.Request):
        return show_step(run, steps, index, -1, request)

    def step_to(run, steps, index, request: gr.Request):
        return show_step(run, steps, index, 0, request)

    def tick(run, steps, index, request: gr.Request):
        if run is None or not steps:
            return gr.skip(), gr.skip(), gr.skip(), gr.Timer(active=False)
        i, fig, text = _step_view(run, steps, int(index or 0) + 1, locale_of(request))
        return i, fig, text, gr.Timer(active=i < len(steps) - 1)

    def show_note(name: str | None, request: gr.Request) -> str:
        return note_for(name, locale_of(request))

    gr.on(None, localize, inputs=None, outputs=[note, source, val_index, loss_table, compare_table],
          api_visibility="private", show_progress="hidden", queue=False)
    match_inputs = [source, val_index, image_in, gt_text, model, w_cls, w_l1, w_giou]
    gr.on([match_btn.click, val_index.release, model.change], run_match, inputs=match_inputs,
          outputs=[*view_outputs, gt_text, layer, run_state, timer], api_name="match", preprocess=False,
          concurrency_id="gpu", concurrency_limit=1, show_progress_on=[match_img], trigger_mode="always_last")
    model.change(show_note, model, note, queue=False, api_visibility="private")
    source.input(lambda s: (gr.Slider(visible=s == SHAPES), gr.Image(visible=s == UPLOAD),
                            "" if s == UPLOAD else gr.skip()),
                 source, [val_index, image_in, gt_text], queue=False, api_visibility="private")
    # .input / .release (user actions only): /match updating these must not start a second event
    gr.on([w_cls.release, w_l1.release, w_giou.release, layer.input], resolve,
          [run_state, layer, w_cls, w_l1, w_giou], view_outputs, show_progress="hidden",
          trigger_mode="always_last", api_name="rematch", api_visibility="undocumented")
    step_outputs = [step_slider, step_plot, step_text]
    step_btn.click(step_forward, [run_state, steps_state, step_slider], step_outputs,
                   show_progress="hidden", api_visibility="private")
    back_btn.click(step_back, [run_state, steps_state, step_slider], step_outputs,
                   show_progress="hidden", api_visibility="private")
    step_slider.release(step_to, [run_state, steps_state, step_slider],
                        step_outputs, show_progress="hidden", trigger_mode="always_last", api_visibility="private")
    play_btn.click(lambda: gr.Timer(active=True), None, timer, queue=False, api_visibility="private")
    pause_btn.click(lambda: gr.Timer(active=False), None, timer, queue=False, api_visibility="private")
    timer.tick(tick, [run_state, steps_state, step_slider], [*step_outputs, timer], show_progress="hidden",
               api_visibility="private")
