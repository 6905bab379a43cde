"""The Train tab: train a small DETR or ViT live, watch its curves and predictions, keep the result.

`/train` (task, preset, data, length, lr, batch, snapshot interval) submits a run to the process's
`JobManager` (`cvdemo.ui.training_jobs`), whose own thread runs the Trainer loop, and streams the run: this
generator polls the job's new events about once a second and yields the progress text, the curves and the
latest snapshot. `/stop_training` sets the run's stop flag: it ends before its next optimizer step (Gradio's
`cancels=` would only stop this generator between yields, never the training thread). `/save_model` writes the
trained model with `cvdemo.models.save` into the session's temporary folder and adds it to the shared
`ModelRegistry`, so the Detect and Attention tabs can run it; `/push_to_hub` uploads it with the user's token.

Why not `concurrency_id="gpu"`: a run lasts minutes; holding the GPU event slot that long would block every
Detect and Attention request of every user. Training is serialised by the job manager instead (one run per
device, a visible queue, hard caps on steps and time); the streaming handler only sleeps and redraws, so it
gets its own concurrency group.

Text is in English or Simplified Chinese (`cvdemo.ui.texts.train`): static text is translated in the browser;
the live status, curves and captions of a run in the language of the request that started it (its
Accept-Language); the choices of the radios and the dropdown, and the line about this server's caps, are
re-rendered in the user's language when the page loads.
"""

from __future__ import annotations

import html
import logging
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr
from gradio.components.plot import PlotData

import cvdemo.models
from cvdemo.datasets.structure import DatasetError
from cvdemo.ui.i18n import DEFAULT_LOCALE, LOCALES, locale_of
from cvdemo.ui.models_registry import ModelRegistry, ModelSpec
from cvdemo.ui.texts.train import T
from cvdemo.ui.training_jobs import JobManager, TrainingBusyError
from cvdemo.ui.training_setup import KINDS, TrainRequest, build_setup, coco_folder_from_zip, hub_push, kind_label
from cvdemo.ui.training_view import RunView, format_seconds, metric_name
from cvdemo.ui.zerogpu import spaces

log = logging.getLogger(__name__)

UPDATE_SECONDS = 1.0  # how often the stream redraws the progress and the curves
SNAPSHOT_SECONDS = 3.0  # the snapshot image at most this often (encoding it is a redraw's main cost; JPEG: ~8 ms)
SESSION_SECONDS = 3600  # a session's folder, job and saved models are dropped after an hour without use
MAX_SESSION_MODELS = 3  # models one session may add to the shared registry (the oldest is replaced)
GENERATED, UPLOADED = "Generated shapes", "My COCO zip"  # the Data radio's values (the API's too)
# (kind, preset) -> the key of the preset's description in the catalog (other presets: their own, in English)
PRESET_NOTES = {("detr", "tiny"): "preset_detr_tiny", ("detr", "small"): "preset_detr_small",
                ("vit", "tiny"): "preset_vit_tiny", ("vit", "small"): "preset_vit_small"}
# elem_ids of the other tabs' model dropdowns, refreshed after a save so the new model can be picked there
MODEL_DROPDOWNS = {"detect-model": "detect", "match-model": "detect", "vit-model": "classify"}


def kind_choices(locale: str = DEFAULT_LOCALE) -> list[tuple[str, str]]:
    """[(text, value)] of the Task radio: "DETR detection" -> "detr", ..."""
    return [(kind_label(kind, locale), kind) for kind in KINDS]


def preset_choices(locale: str = DEFAULT_LOCALE) -> list[tuple[str, str]]:
    return [(T.text("preset_tiny", locale), "tiny"), (T.text("preset_small", locale), "small")]


def source_choices(locale: str = DEFAULT_LOCALE) -> list[tuple[str, str]]:
    return [(T.text("source_generated", locale), GENERATED), (T.text("source_upload", locale), UPLOADED)]


def unit_choices(locale: str = DEFAULT_LOCALE) -> list[tuple[str, str]]:
    return [(T.text("unit_steps", locale), "steps"), (T.text("unit_epochs", locale), "epochs")]

_manager: JobManager | None = None


def default_manager() -> JobManager:
    """The process's job manager (one training run per device, whatever the number of demos)."""
    global _manager
    if _manager is None:
        _manager = JobManager()
    return _manager


def training_device(registry: ModelRegistry) -> str:
    """The registry's device; the CPU on ZeroGPU, where a GPU only exists inside a `spaces.GPU` call."""
    return "cpu" if spaces is not None else str(registry.device)


@dataclass
class TrainSession:
    """One browser session's files and models: deleted with the session (`gr.State`'s delete_callback)."""

    owner: str
    folder: Path
    data: Path | None = None  # the last uploaded data set, extracted
    saved: Path | None = None  # the last saved model folder
    models: list[str] = field(default_factory=list)  # names this session added to the registry

    def close(self, registry: ModelRegistry, manager: JobManager) -> None:
        manager.forget(self.owner)
        for name in self.models:
            registry.remove(name)
        shutil.rmtree(self.folder, ignore_errors=True)


def _error(message: str, title: str) -> gr.Error:
    return gr.Error(html.escape(message, quote=False), title=title, print_exception=False)


def _end_note(state: str, view: RunView, job, locale: str = DEFAULT_LOCALE) -> str:
    done = view.last_step.step if view.last_step else 0
    elapsed = format_seconds(view.finished.elapsed_s, locale) if view.finished else ""
    if state == "failed":
        return T.text("failed", locale, step=done, error=html.escape(job.error or T.text("unknown_error", locale)))
    if state == "stopped":
        if job.stop_reason == "time limit":
            why = T.text("why_time_limit", locale, time=format_seconds(job.limits.max_seconds, locale))
        elif job.stop_reason == "stop pressed":
            why = T.text("why_stop_pressed", locale)
        else:
            why = T.text("why_stopped", locale)
        if done == 0:
            return T.text("stopped_before_start", locale, why=why)
        return T.text("stopped_at", locale, step=done, elapsed=elapsed, why=why)
    metrics = view.finished.final_metrics if view.finished else {}
    final = T.text("list_separator", locale).join(
        f"{metric_name(k, locale)} {metrics[k]:.3f}" for k in ("AP", "AP50", "accuracy") if k in metrics)
    if final:
        return T.text("done_metrics", locale, steps=done, elapsed=elapsed, metrics=final)
    return T.text("done", locale, steps=done, elapsed=elapsed)


def build_train_tab(registry: ModelRegistry, examples_dir: Path, manager: JobManager | None = None) -> None:
    """Lay out the tab inside the current gr.Blocks / gr.Tab context and wire its events.
    examples_dir: unused (the data is generated or uploaded); kept for the tabs' common signature."""
    manager = manager or default_manager()
    device = training_device(registry)
    gr.Markdown(T("intro"))
    session = gr.State(None, time_to_live=SESSION_SECONDS,
                       delete_callback=lambda s: s.close(registry, manager) if s is not None else None)
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=300):
            kind = gr.Radio(kind_choices(), value="detr", label=T("task"), elem_id="train-kind")
            preset = gr.Dropdown(preset_choices(), value="tiny", label=T("preset"), elem_id="train-preset")
            preset_note = gr.Markdown(T(PRESET_NOTES["detr", "tiny"]))
            source = gr.Radio(source_choices(), value=GENERATED, label=T("data"))
            upload = gr.File(label=T("upload"), type="filepath", visible=False, elem_id="train-upload")
            with gr.Row():
                length = gr.Number(300, label=T("train_for"), minimum=1, precision=2, min_width=100)
                unit = gr.Radio(unit_choices(), value="steps", label=T("unit"), min_width=120)
            with gr.Row():
                lr = gr.Number(_preset_value("detr", "tiny", "lr"), label=T("lr"), minimum=0, min_width=100)
                batch = gr.Number(_preset_value("detr", "tiny", "batch_size"), label=T("batch"), minimum=1,
                                  maximum=256, precision=0, min_width=100)
                snapshot_every = gr.Number(25, label=T("snapshot_every"), minimum=0, precision=0, min_width=100)
            limits = gr.Markdown(elem_id="train-limits")  # filled in the user's language on page load
            with gr.Row():
                start = gr.Button(T("start"), variant="primary", elem_id="train-start")
                stop = gr.Button(T("stop"), variant="stop", elem_id="train-stop")
            stop_note = gr.Markdown(elem_id="train-stop-note")
        with gr.Column(scale=5, min_width=480):
            status = gr.Markdown(T("status_idle"), elem_id="train-status")
            curves = gr.Plot(label=T("curves"), show_label=False, elem_id="train-curves")
    with gr.Row(equal_height=False):
        with gr.Column(scale=5):
            gr.Markdown(T("snapshots_heading"))
            snapshot = gr.Image(label=T("snapshots"), show_label=False, interactive=False,
                                format="jpeg", elem_id="train-snapshot", buttons=["fullscreen"])
            snapshot_note = gr.Markdown(T("snapshot_none"))  # RunView().snapshot_caption() of an empty run
        with gr.Column(scale=2, min_width=300):
            gr.Markdown(T("keep_heading"))
            model_name = gr.Textbox("my-model", label=T("name"), max_lines=1)
            save = gr.Button(T("save"), elem_id="train-save")
            saved_note = gr.Markdown(elem_id="train-saved")
            saved_files = gr.File(label=T("checkpoint"), file_count="multiple", interactive=False, visible=False)
            with gr.Accordion(T("hub"), open=False):
                repo_id = gr.Textbox(label=T("repo"), placeholder=T("repo_placeholder"), max_lines=1)
                token = gr.Textbox(label=T("token"), type="password", max_lines=1)
                private = gr.Checkbox(True, label=T("private"))
                push = gr.Button(T("push"))
                push_note = gr.Markdown()

    def session_of(state: TrainSession | None, request: gr.Request) -> TrainSession:
        if state is None:
            state = TrainSession(request.session_hash or "anonymous",
                                 Path(tempfile.mkdtemp(prefix="cvdemo-train-")))
        return state

    def train(kind_v, preset_v, source_v, upload_v, length_v, unit_v, lr_v, batch_v, snap_v, state,
              request: gr.Request):
        locale = locale_of(request)
        state = session_of(state, request)
        job = manager.job_of(state.owner)
        if job is not None and job.active:
            raise _error(T.text("already_training", locale), T.text("title_already_training", locale))
        dataset = None
        if source_v == UPLOADED:
            if not upload_v:
                raise _error(T.text("no_data", locale), T.text("title_no_data", locale))
            if state.data is not None:  # the previous upload's files; its run is over
                shutil.rmtree(state.data, ignore_errors=True)
            state.data = Path(tempfile.mkdtemp(prefix="data-", dir=state.folder))
            try:
                dataset = coco_folder_from_zip(upload_v, state.data, locale=locale)
            except DatasetError as e:
                raise _error(str(e), T.text("title_bad_zip", locale)) from None
        request_ = TrainRequest(kind=kind_v, preset=preset_v, length=float(length_v or 0), unit=unit_v,
                                lr=float(lr_v) if lr_v else None, batch_size=int(batch_v) if batch_v else None,
                                snapshot_every=int(snap_v or 0), device=device, dataset=dataset)
        try:
            setup = build_setup(request_, locale=locale)
            job = manager.submit(state.owner, setup)
        except TrainingBusyError as e:
            raise _error(str(e), T.text("title_busy", locale)) from None
        except (ValueError, DatasetError) as e:
            raise _error(str(e), T.text("title_bad_settings", locale)) from None
        about = html.escape(setup.description, quote=False) + "".join(f"  \n⚠️ {html.escape(n, quote=False)}"
                                                                   for n in setup.notes)
        try:
            for outputs in _stream(manager, job, about, locale):
                yield *outputs, state
        finally:  # the page went away (Gradio dropped this stream): the run is nobody's any more
            if job.active:
                manager.stop(state.owner, "page closed")

    def stop_training(state, request: gr.Request) -> str:
        """Sets the run's stop flag; the stream itself then reports the end (no race on its status text)."""
        locale = locale_of(request)
        owner = state.owner if state is not None else request.session_hash
        was_active = (job := manager.job_of(owner)) is not None and job.active
        manager.stop(owner)
        if job is None or not was_active:
            return T.text("no_run_to_stop", locale)
        return T.text("stop_requested", locale, step=job.steps_done)

    def save_model(name: str, state, request: gr.Request):
        locale = locale_of(request)
        state = session_of(state, request)
        job = manager.job_of(state.owner)
        if job is None or job.started_at is None:
            raise _error(T.text("train_first", locale), T.text("title_nothing_to_save", locale))
        if job.active:
            raise _error(T.text("still_training", locale), T.text("title_still_training", locale))
        base = re.sub(r"[^\w.-]+", "-", (name or "").strip()).strip("-")[:40] or "my-model"
        taken = set(registry.names("detect")) | set(registry.names("classify"))
        final, k = base, 2
        while final in taken:
            final, k = f"{base}-{k}", k + 1
        folder = cvdemo.models.save(job.model, state.folder / "models" / final)
        task = "detect" if job.setup.task.name == "detection" else "classify"
        about = {loc: T.text("trained_by_you", loc, description=job.setup.describe(loc), steps=job.steps_done)
                 for loc in LOCALES}
        spec = ModelSpec(final, str(folder), task, about)
        registry.add(spec, model=cvdemo.models.load(folder))  # a fresh copy, read back from the saved files
        state.models.append(final)
        while len(state.models) > MAX_SESSION_MODELS:
            registry.remove(state.models.pop(0))
        state.saved = folder
        note = T.text("saved_detect" if task == "detect" else "saved_classify", locale, name=html.escape(final))
        files = [str(folder / "config.json"), str(folder / "model.safetensors")]
        return note, gr.File(files, visible=True), state

    def push_model(repo: str, token_v: str, private_v: bool, state, request: gr.Request) -> str:
        locale = locale_of(request)
        folder = state.saved if state is not None else None
        try:
            if folder is None:
                raise ValueError(T.text("save_first", locale))
            url = hub_push(folder, repo, token_v, private=bool(private_v), locale=locale)
        except ValueError as e:
            raise _error(str(e), T.text("title_cannot_push", locale)) from None
        return T.text("pushed", locale, url=html.escape(url))

    def on_task(kind_v, preset_v, request: gr.Request):
        return (_preset_note(kind_v, preset_v, locale_of(request)), _preset_value(kind_v, preset_v, "lr"),
                _preset_value(kind_v, preset_v, "batch_size"))

    def localize(request: gr.Request):
        """Page load: the choices (values unchanged, the build-time ones selected) and the caps line in the
        user's language."""
        locale = locale_of(request)
        caps = T.text("limits", locale, device=device, steps=manager.limits.max_steps,
                      time=format_seconds(manager.limits.max_seconds, locale))
        return (gr.Radio(choices=kind_choices(locale), value="detr"),
                gr.Dropdown(choices=preset_choices(locale), value="tiny"),
                gr.Radio(choices=source_choices(locale), value=GENERATED),
                gr.Radio(choices=unit_choices(locale), value="steps"), caps)

    gr.on(None, localize, inputs=None, outputs=[kind, preset, source, unit, limits], api_visibility="private",
          show_progress="hidden", queue=False)
    gr.on([kind.change, preset.change], on_task, [kind, preset], [preset_note, lr, batch], queue=False,
          api_visibility="private")
    source.change(lambda v: gr.File(visible=v == UPLOADED), source, upload, queue=False, api_visibility="private")
    start.click(lambda: "", None, stop_note, queue=False, api_visibility="private")
    start.click(train, [kind, preset, source, upload, length, unit, lr, batch, snapshot_every, session],
                [status, curves, snapshot, snapshot_note, session], api_name="train", concurrency_id="train-stream",
                concurrency_limit=8, show_progress="minimal", show_progress_on=[status])
    stop.click(stop_training, session, stop_note, api_name="stop_training", queue=False)
    saved = save.click(save_model, [model_name, session], [saved_note, saved_files, session], api_name="save_model")
    dropdowns = _model_dropdowns()
    if dropdowns:
        saved.success(lambda: [gr.Dropdown(choices=registry.names(task)) for _, task in dropdowns], None,
                      [d for d, _ in dropdowns], api_visibility="private")
    push.click(push_model, [repo_id, token, private, session], push_note, api_name="push_to_hub")


def _stream(manager: JobManager, job, about: str, locale: str = DEFAULT_LOCALE):
    """(status, curves, snapshot, snapshot caption) about every UPDATE_SECONDS until the job ends, in ``locale``."""
    view = RunView(locale)
    cursor, last_snapshot, last_yield, last_image = 0, object(), 0.0, 0.0  # 1st redraw clears the last snapshot
    while True:
        finished = job.done.is_set()
        events, cursor = job.poll(cursor)
        view.consume(events)
        now = time.monotonic()
        if finished or now - last_yield >= UPDATE_SECONDS:
            last_yield = now
            if job.state == "queued":
                place = manager.queue_position(job)
                note = T.text("queued", locale, place=place) if place else T.text("starting", locale)
                yield note + "  \n" + about, gr.skip(), gr.skip(), gr.skip()
            else:
                note = _end_note(job.state, view, job, locale) if finished else T.text("training", locale)
                changed = view.snapshot is not last_snapshot and (finished or now - last_image >= SNAPSHOT_SECONDS)
                if changed:
                    last_snapshot, last_image = view.snapshot, now
                yield (view.progress_markdown(job.state, note + "  \n" + about), _plot(view),
                       view.snapshot_image() if changed else gr.skip(),
                       view.snapshot_caption() if changed else gr.skip())
        if finished:
            return
        job.done.wait(min(0.2, UPDATE_SECONDS))


def _plot(view: RunView) -> PlotData:
    """The curves as Gradio's plot payload, from plain JSON: ~2 ms a redraw instead of ~100 ms through
    go.Figure, which matters on a shared CPU where every redraw slows the training thread."""
    return PlotData(type="plotly", plot=view.figure_json())


def _preset_value(kind: str, preset: str, key: str):
    return KINDS[kind][1][preset].train[key]


def _preset_note(kind: str, preset: str, locale: str = DEFAULT_LOCALE) -> str:
    """The preset's description, in italics, in ``locale`` ("" for an unknown preset)."""
    p = KINDS[kind][1].get(preset)
    if p is None:
        return ""
    key = PRESET_NOTES.get((kind, preset))
    return T.text(key, locale) if key else f"*{html.escape(p.description)}*"


def _model_dropdowns() -> list[tuple[gr.Dropdown, str]]:
    """The Detect / Attention tabs' model dropdowns built before this tab in the same gr.Blocks, if any."""
    root = gr.context.Context.root_block
    if root is None:
        return []
    return [(b, MODEL_DROPDOWNS[b.elem_id]) for b in root.blocks.values()
            if isinstance(b, gr.Dropdown) and b.elem_id in MODEL_DROPDOWNS]
