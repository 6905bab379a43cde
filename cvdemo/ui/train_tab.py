"""The Train tab: train a small DETR or ViT live, watch its curves and predictions, keep the result.

Read in three parts: `layout` creates the components, the module-level handlers answer the events (each wrapped
with `cvdemo.ui.errors.answers`; their shared objects come in a keyword-only `TrainContext`, fixed by
`cvdemo.ui.binding.bind`), and `wire` connects them. `build_train_tab` is the entry point app.py calls.

`/train` (task, preset, data, length, lr, batch, snapshot interval) checks every value (`cvdemo.ui.validate`),
builds the run (`cvdemo.training.requests`) and submits it to the process's `JobManager`
(`cvdemo.training.jobs`), whose own thread runs the Trainer loop; the handler streams the run: it polls the
job's new events about once a second and yields the progress text, the curves and the latest snapshot
(composed by `cvdemo.ui.training_view`). `/stop_training` sets the run's stop flag: it ends before its next
optimizer step (Gradio's `cancels=` would only stop the stream between yields, never the training thread).
`/save_model` saves the trained model (`cvdemo.training.trained_models`) and offers it to this browser session
only (`ModelRegistry.add(..., owner=session)`, at most `MAX_MODELS_PER_OWNER`, the oldest replaced), so this
session's Detect, Matching and Attention tabs can run it; `/push_to_hub` uploads it with the user's token.

Files: an uploaded zip is extracted into a work folder made only for an accepted run (`TrainingWorkspace`: one
root per process); a session's run, files and saved models are dropped when it ends (`cvdemo.ui.sessions`,
app.py wires ``demo.unload``), or an hour after its last run or save (the state's time to live: API clients
never unload).

Why not `concurrency_id="gpu"`: a run lasts minutes; holding the GPU event slot that long would block every
Detect and Attention request of every user. Training is serialised by the job manager instead (one run per
device, a visible queue, hard caps on steps and time); the streaming handler only sleeps and redraws, so it
gets its own concurrency group.

Text is in English or Simplified Chinese (`cvdemo.ui.texts.train`): static text is translated in the browser;
the live status, curves and captions of a run in the language of the request that started it; the choices of
the radios and the dropdown, and the line about this server's caps, are re-rendered in the user's language
when the page loads.
"""

from __future__ import annotations

import functools
import html
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from types import SimpleNamespace

import gradio as gr

from cvdemo.messages import UserError
from cvdemo.models.registry import MAX_MODELS_PER_OWNER, TASKS, ModelRegistry, ModelSpec
from cvdemo.training.jobs import JobManager, TrainingJob, already_training
from cvdemo.training.kinds import KINDS
from cvdemo.training.recorded_runs import RecordedRun, load_recorded_run
from cvdemo.training.requests import TrainRequest, build_setup, coco_folder_from_zip
from cvdemo.training.run_curves import RunCurves, RunHistory
from cvdemo.training.trained_models import model_name, push_to_hub, save_trained_model, suggested_threshold
from cvdemo.training.workspace import TrainingWorkspace
from cvdemo.ui import sessions, validate
from cvdemo.ui.binding import bind
from cvdemo.ui.errors import answers
from cvdemo.ui.i18n import DEFAULT_LOCALE, LOCALES, locale_of
from cvdemo.ui.texts.train import T
from cvdemo.ui.training_view import (
    DEFAULT_SMOOTHING,
    CurveOptions,
    RunView,
    about_markdown,
    curves_payload,
    duration_text,
    end_note,
    metric_name,
    recorded_status,
    threshold_note,
    word,
)
from cvdemo.ui.uploads import upload_path
from cvdemo.ui.zerogpu import spaces

UPDATE_SECONDS = 1.0  # how often the stream redraws the progress and the curves
SNAPSHOT_SECONDS = 3.0  # the snapshot image at most this often (encoding it is a redraw's main cost; JPEG: ~8 ms)
SESSION_SECONDS = 3600  # a session's run, files and saved models are dropped an hour after its last run or save
GENERATED, UPLOADED = "Generated shapes", "My COCO zip"  # the Data radio's values (the API's too)
UNITS = ("steps", "epochs")
# limits of the number fields (the same for the UI's controls and for values sent to the API)
MAX_LENGTH = 1_000_000  # steps or epochs asked (the job manager then cuts the steps to its cap, with a note)
MAX_LR = 1.0
MAX_BATCH = 256
MAX_SNAPSHOT_EVERY = 1_000_000
# (kind, preset) -> the key of the preset's description in the catalog (other presets: their own, in English)
PRESET_NOTES = {("detr", "tiny"): "preset_detr_tiny", ("detr", "small"): "preset_detr_small",
                ("vit", "tiny"): "preset_vit_tiny", ("vit", "small"): "preset_vit_small",
                ("yolo", "tiny"): "preset_yolo_tiny", ("yolo", "small"): "preset_yolo_small",
                ("fasterrcnn", "tiny"): "preset_fasterrcnn_tiny", ("fasterrcnn", "small"): "preset_fasterrcnn_small",
                ("ssd", "tiny"): "preset_ssd_tiny", ("ssd", "small"): "preset_ssd_small"}
MAX_SMOOTHING = 0.99
# the recorded runs offered for comparison (and the first view: the first one), value -> (kind, preset)
RECORDINGS = {"recorded-detr-tiny": ("detr", "tiny"), "recorded-vit-tiny": ("vit", "tiny")}
FIRST_VIEW = "recorded-detr-tiny"
# what the note after a save says, per registry task: where the saved model can be used
SAVED_NOTES = {"detect": "saved_detect", "family": "saved_family", "classify": "saved_classify"}
MAX_OPTION_SESSIONS = 1024  # sessions whose curve settings are remembered (the least recently set dropped first)
# elem_ids of the other tabs' model lists (dropdowns, the Detectors tab's checkboxes) and the registry tasks they
# offer, refreshed after a save so the new model can be picked there
MODEL_DROPDOWNS = {"detect-model": ("detect",), "match-model": ("detect",), "vit-model": ("classify",),
                   "detectors-models": ("detect", "family")}


@dataclass(frozen=True)
class TrainContext:
    """What the handlers share: the models on offer, the process's job manager and work folders, the device."""

    registry: ModelRegistry
    manager: JobManager
    workspace: TrainingWorkspace
    device: str


_manager: JobManager | None = None
_workspace: TrainingWorkspace | None = None
HISTORY = RunHistory()  # each session's finished runs, to overlay on the current one
_options: OrderedDict[str, tuple[float, bool, tuple[str, ...]]] = OrderedDict()  # session -> curve settings
_options_lock = threading.Lock()


def default_manager() -> JobManager:
    """The process's job manager (one training run per device, whatever the number of demos)."""
    global _manager
    if _manager is None:
        _manager = JobManager()
    return _manager


def default_workspace() -> TrainingWorkspace:
    """The process's training work folders (one /tmp/cvdemo-train-* root, made on the first accepted upload)."""
    global _workspace
    if _workspace is None:
        _workspace = TrainingWorkspace()
    return _workspace


def training_device(registry: ModelRegistry) -> str:
    """The registry's device; the CPU on ZeroGPU, where a GPU only exists inside a `spaces.GPU` call."""
    return "cpu" if spaces is not None else str(registry.device)


# --- choices and preset values, in the user's language ------------------------------------------------------


def kind_choices(locale: str = DEFAULT_LOCALE) -> list[tuple[str, str]]:
    """[(text, value)] of the Task radio: "DETR detection" -> "detr", ..."""
    return [(word(kind.label, locale), name) for name, kind in KINDS.items()]


def preset_choices(locale: str = DEFAULT_LOCALE) -> list[tuple[str, str]]:
    return [(T.text("preset_tiny", locale), "tiny"), (T.text("preset_small", locale), "small")]


def source_choices(locale: str = DEFAULT_LOCALE) -> list[tuple[str, str]]:
    return [(T.text("source_generated", locale), GENERATED), (T.text("source_upload", locale), UPLOADED)]


def unit_choices(locale: str = DEFAULT_LOCALE) -> list[tuple[str, str]]:
    return [(T.text("unit_steps", locale), "steps"), (T.text("unit_epochs", locale), "epochs")]


def _preset_value(kind: str, preset: str, key: str):
    return KINDS[kind].presets[preset].train[key]


def _preset_note(kind: str, preset: str, locale: str = DEFAULT_LOCALE) -> str:
    """The preset's description, in italics, in ``locale`` ("" for an unknown preset)."""
    p = KINDS[kind].presets.get(preset) if kind in KINDS else None
    if p is None:
        return ""
    key = PRESET_NOTES.get((kind, preset))
    return T.text(key, locale) if key else f"*{html.escape(p.description)}*"


# --- helpers of the handlers --------------------------------------------------------------------------------


@contextmanager
def _titled(title_key: str, locale: str) -> Iterator[None]:
    """A `UserError` raised in the block becomes a gr.Error titled ``title_key``, both in ``locale``."""
    try:
        yield
    except UserError as e:
        raise gr.Error(html.escape(word(e, locale), quote=False), title=T.text(title_key, locale),
                       print_exception=False) from None


def _refusal(key: str, title_key: str, locale: str) -> gr.Error:
    return gr.Error(T.text(key, locale), title=T.text(title_key, locale), print_exception=False)


def _run_request(kind, preset, source, length, unit, lr, batch, snapshot_every, device: str,
                 locale: str) -> TrainRequest:
    """The checked values of a /train call (the API can send anything) as a request without data."""
    def label(key: str) -> str:
        return T.text(key, locale)

    kind = validate.choice(kind, list(KINDS), name=label("task"), locale=locale)
    preset = validate.choice(preset, list(KINDS[kind].presets), name=label("preset"), locale=locale)
    validate.choice(source, (GENERATED, UPLOADED), name=label("data"), locale=locale)
    unit = validate.choice(unit, UNITS, name=label("unit"), locale=locale)
    length = validate.number(length, name=label("train_for"), low=1, high=MAX_LENGTH, locale=locale)
    if lr is not None:  # None: the preset's
        lr = validate.number(lr, name=label("lr"), low=0, high=MAX_LR, low_open=True, locale=locale)
    if batch is not None:  # None: the preset's
        batch = validate.number(batch, name=label("batch"), low=1, high=MAX_BATCH, integer=True, locale=locale)
    snapshot_every = 0 if snapshot_every is None else validate.number(
        snapshot_every, name=label("snapshot_every"), low=0, high=MAX_SNAPSHOT_EVERY, integer=True, locale=locale)
    return TrainRequest(kind=kind, preset=preset, length=length, unit=unit, lr=lr, batch_size=batch,
                        snapshot_every=snapshot_every, device=device)


def _submit(ctx: TrainContext, session: str, request: TrainRequest, zip_path: str | None,
            locale: str) -> TrainingJob:
    """Build and queue the run. An uploaded zip is extracted into a fresh work folder, deleted when the run is
    refused; an accepted run's folder (or none, for generated data) replaces the session's previous one."""
    if zip_path is None:
        with _titled("title_bad_settings", locale):
            setup = build_setup(request)
        with _titled("title_busy", locale):
            job = ctx.manager.submit(session, setup)
        ctx.workspace.replace_run(session, None)
        return job
    with ctx.workspace.new_run_folder(session) as folder:
        with _titled("title_bad_zip", locale):
            dataset = coco_folder_from_zip(zip_path, folder / "data")
        with _titled("title_bad_settings", locale):
            setup = build_setup(replace(request, dataset=dataset))
        with _titled("title_busy", locale):
            return ctx.manager.submit(session, setup)


def _stream(manager: JobManager, job: TrainingJob, about: str, view: RunView,
            options: Callable[[], CurveOptions] = CurveOptions):
    """(status, curves, snapshot, snapshot caption) about every UPDATE_SECONDS until the job ends, in the view's
    language; the curves drawn as ``options()`` says at each redraw (the user may change them meanwhile)."""
    locale = view.locale
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
                note = end_note(job.state, view, job, locale) if finished else T.text("training", locale)
                changed = view.snapshot is not last_snapshot and (finished or now - last_image >= SNAPSHOT_SECONDS)
                if changed:
                    last_snapshot, last_image = view.snapshot, now
                yield (view.progress_markdown(job.state, note + "  \n" + about), curves_payload(view, options()),
                       view.snapshot_image() if changed else gr.skip(),
                       view.snapshot_caption() if changed else gr.skip())
        if finished:
            return
        job.done.wait(min(0.2, UPDATE_SECONDS))


def _finished_job(manager: JobManager, session: str, locale: str) -> TrainingJob:
    """The session's run, if it ran and is over; else the gr.Error saying why there is nothing to save."""
    job = manager.job_of(session)
    if job is None or job.started_at is None:
        raise _refusal("train_first", "title_nothing_to_save", locale)
    if job.active:
        raise _refusal("still_training", "title_still_training", locale)
    return job


# --- curves: settings, recorded runs, the session's earlier runs -------------------------------------------


@functools.lru_cache(maxsize=len(RECORDINGS))
def recorded(value: str) -> RecordedRun | None:
    """The recorded run of a `RECORDINGS` value (read once per process), None when it is not shipped."""
    kind, preset = RECORDINGS[value]
    return load_recorded_run(kind, preset)


def _run_label(index: int, about: dict, curves: RunCurves, locale: str) -> str:
    """"run 2: DETR detection, tiny, 900 steps, AP 0.123" in ``locale``."""
    metrics = curves.evals[-1][1] if curves.evals else {}
    final = "".join(f", {metric_name(k, locale)} {metrics[k]:.3f}" for k in ("AP", "accuracy") if k in metrics)
    return T.text("run_label", locale, n=index, kind=word(KINDS[about["kind"]].label, locale),
                  preset=about["preset"], steps=curves.last_step, final=final)


def _recording_label(run: RecordedRun, locale: str) -> str:
    return T.text("recorded_label", locale, kind=word(KINDS[run.kind].label, locale), preset=run.preset,
                  steps=run.curves.last_step)


def overlay_choices(session: str, locale: str, current_job: int | None = None) -> list[tuple[str, str]]:
    """[(text, value)] of the runs one can overlay: the recorded runs, then the session's finished runs (the one
    on the screen, ``current_job``, left out)."""
    choices = [(_recording_label(run, locale), value) for value in RECORDINGS if (run := recorded(value))]
    for index, (run_id, about, curves) in enumerate(HISTORY.runs(session), start=1):
        if about.get("job") != current_job:
            choices.append((_run_label(index, about, curves, locale), run_id))
    return choices


def _overlays(session: str, values: tuple[str, ...], locale: str) -> tuple[tuple[str, RunCurves], ...]:
    """(name, curves) of the chosen runs that are still kept (a dropped one is left out)."""
    named = dict((value, text) for text, value in overlay_choices(session, locale))
    runs = {run_id: curves for run_id, _, curves in HISTORY.runs(session)}
    out = []
    for value in values:
        curves = runs.get(value) or (run.curves if value in RECORDINGS and (run := recorded(value)) else None)
        if curves is not None and value in named:
            out.append((named[value], curves))
    return tuple(out)


def _remember_options(session: str, smoothing: float, log_y: bool, compare: tuple[str, ...]) -> None:
    with _options_lock:
        _options[session] = (smoothing, log_y, compare)
        _options.move_to_end(session)
        while len(_options) > MAX_OPTION_SESSIONS:
            _options.popitem(last=False)


def curve_options(session: str, locale: str) -> CurveOptions:
    """The session's curve settings (the defaults until it sets some), its overlays resolved."""
    with _options_lock:
        smoothing, log_y, compare = _options.get(session, (DEFAULT_SMOOTHING, True, ()))
    return CurveOptions(smoothing, log_y, _overlays(session, compare, locale))


def _current_view(ctx: TrainContext, session: str, locale: str) -> tuple[RunView, int | None]:
    """The session's run on the screen (its events so far) and its job id, else the first view's recording."""
    job = ctx.manager.job_of(session)
    if job is not None and job.started_at is not None:
        view = RunView(locale)
        view.consume(job.poll(0)[0])
        return view, job.id
    run = recorded(FIRST_VIEW)
    return RunView.of_curves(run.curves if run else RunCurves(), run.snapshot if run else None, locale), None


# --- handlers -------------------------------------------------------------------------------------------------


@answers
def train(kind_v, preset_v, source_v, upload_v, length_v, unit_v, lr_v, batch_v, snap_v, request: gr.Request, *,
          ctx: TrainContext):
    """/train: check the values, queue the run, stream its progress until it ends (or the page goes away).
    The parameters keep the names the API has always given them (``kind_v``, ...)."""
    kind, preset, source, upload, length = kind_v, preset_v, source_v, upload_v, length_v
    unit, lr, batch, snapshot_every = unit_v, lr_v, batch_v, snap_v
    locale, session = locale_of(request), sessions.session_of(request)
    run = _run_request(kind, preset, source, length, unit, lr, batch, snapshot_every, ctx.device, locale)
    current = ctx.manager.job_of(session)
    if current is not None and current.active:  # refused before any file is written
        with _titled("title_already_training", locale):
            raise already_training()
    zip_path = upload_path(upload) if source == UPLOADED else None
    if source == UPLOADED and zip_path is None:
        raise _refusal("no_data", "title_no_data", locale)
    job = _submit(ctx, session, run, zip_path, locale)
    about = about_markdown(job.setup.description, job.setup.notes, locale)
    view = RunView(locale)
    try:
        for outputs in _stream(ctx.manager, job, about, view, lambda: curve_options(session, locale)):
            yield *outputs, session
    finally:  # the page went away (Gradio dropped this stream): the run is nobody's any more
        if job.active:
            ctx.manager.stop(session, "page closed")
    if view.curves.steps:  # kept for comparison with the session's next runs
        HISTORY.add(session, view.curves, about={"job": job.id, "kind": run.kind, "preset": run.preset})


@answers
def stop_training(request: gr.Request, *, ctx: TrainContext) -> str:
    """/stop_training: set the run's stop flag; the stream itself then reports the end (no race on its text)."""
    locale, session = locale_of(request), sessions.session_of(request)
    job = ctx.manager.job_of(session)
    was_active = job is not None and job.active
    ctx.manager.stop(session)
    if not was_active:
        return T.text("no_run_to_stop", locale)
    return T.text("stop_requested", locale, step=job.steps_done)


@answers
def save_model(name, request: gr.Request, *, ctx: TrainContext):
    """/save_model: save the finished run's model and offer it to this session's other tabs."""
    locale, session = locale_of(request), sessions.session_of(request)
    job = _finished_job(ctx.manager, session, locale)
    taken = [n for task in TASKS for n in ctx.registry.names(task, session)]
    saved = save_trained_model(job.model, ctx.workspace.model_folder(session), name=model_name(name, taken),
                               task=job.setup.model_task)
    about = {loc: T.text("trained_by_you", loc, description=word(job.setup.description, loc), steps=job.steps_done)
             for loc in LOCALES}
    before = ctx.registry.owned(session)
    ctx.registry.add(ModelSpec(saved.name, str(saved.folder), saved.task, about), model=saved.model,
                     owner=session)
    kept = ctx.registry.owned(session)
    ctx.workspace.add_model(session, saved.name, saved.folder, kept=kept)
    note = T.text(SAVED_NOTES[saved.task], locale, name=html.escape(saved.name))
    if saved.task != "classify" and job.setup.val_data is not None and len(job.setup.val_data):
        best, default = suggested_threshold(saved.model, job.setup.task, job.setup.val_data, job.device)
        note += "  \n" + threshold_note(best, default, locale)
    for dropped in (n for n in before if n not in kept):
        note += "  \n" + T.text("replaced_oldest", locale, name=html.escape(dropped), limit=MAX_MODELS_PER_OWNER)
    return note, gr.File([str(f) for f in saved.files], visible=True), session


@answers
def push_model(repo, token_v, private_v, request: gr.Request, *, ctx: TrainContext) -> str:
    """/push_to_hub: upload the model this session saved last to the user's Hub repository (the API's parameter
    names: ``repo``, ``token_v``, ``private_v``)."""
    token, private = token_v, private_v
    locale, session = locale_of(request), sessions.session_of(request)
    private = validate.choice(private, (True, False), name=T.text("private", locale), locale=locale)
    with _titled("title_cannot_push", locale):
        url = push_to_hub(ctx.workspace.saved_folder(session), repo, token, private=private)
    return T.text("pushed", locale, url=html.escape(url))


@answers
def on_task(kind, preset, request: gr.Request):
    """Task or preset changed: the preset's note, learning rate, batch size and default length (in steps)."""
    if kind not in KINDS or preset not in KINDS[kind].presets:
        return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
    return (_preset_note(kind, preset, locale_of(request)), _preset_value(kind, preset, "lr"),
            _preset_value(kind, preset, "batch_size"), KINDS[kind].presets[preset].demo_steps, "steps")


@answers
def first_view(request: gr.Request, *, ctx: TrainContext):
    """Page load: the recorded run of the default preset (status, curves, its last snapshot) unless this session
    already trains, and the runs one can overlay."""
    locale, session = locale_of(request), sessions.session_of(request)
    run = recorded(FIRST_VIEW)
    job = ctx.manager.job_of(session)
    choices = gr.CheckboxGroup(choices=overlay_choices(session, locale, job.id if job else None))
    if run is None or job is not None:
        return gr.skip(), gr.skip(), gr.skip(), gr.skip(), choices
    view = RunView.of_curves(run.curves, run.snapshot, locale)
    status = recorded_status(run, locale)
    return (status, curves_payload(view, curve_options(session, locale)), view.snapshot_image(),
            view.snapshot_caption(), choices)


@answers
def redraw(smoothing_v, log_v, compare_v, request: gr.Request, *, ctx: TrainContext):
    """The curve settings changed: remember them for the session (a live run's stream reads them at each redraw)
    and redraw the curves on the screen now."""
    locale, session = locale_of(request), sessions.session_of(request)
    smoothing = validate.number(smoothing_v, name=T.text("smoothing", locale), low=0, high=MAX_SMOOTHING,
                                locale=locale)
    log_y = validate.choice(log_v, (True, False), name=T.text("log_scale", locale), locale=locale)
    view, job_id = _current_view(ctx, session, locale)
    offered = [value for _, value in overlay_choices(session, locale, job_id)]
    compare = tuple(validate.choice(v, offered, name=T.text("compare", locale), locale=locale)
                    for v in (compare_v or []))
    _remember_options(session, smoothing, log_y, compare)
    return curves_payload(view, curve_options(session, locale))


@answers
def list_runs(compare_v, request: gr.Request, *, ctx: TrainContext) -> gr.CheckboxGroup:
    """After a run: the runs one can overlay now (the finished one included, unless it is on the screen)."""
    locale, session = locale_of(request), sessions.session_of(request)
    job = ctx.manager.job_of(session)
    choices = overlay_choices(session, locale, job.id if job else None)
    values = {value for _, value in choices}
    return gr.CheckboxGroup(choices=choices, value=[v for v in (compare_v or []) if v in values])


@answers
def localize(request: gr.Request, *, ctx: TrainContext):
    """Page load: the choices (values unchanged, the build-time ones selected) and the caps line in the user's
    language."""
    locale = locale_of(request)
    caps = T.text("limits", locale, device=ctx.device, steps=ctx.manager.limits.max_steps,
                  time=duration_text(ctx.manager.limits.max_seconds, locale), models=MAX_MODELS_PER_OWNER)
    return (gr.Radio(choices=kind_choices(locale), value="detr"),
            gr.Dropdown(choices=preset_choices(locale), value="tiny"),
            gr.Radio(choices=source_choices(locale), value=GENERATED),
            gr.Radio(choices=unit_choices(locale), value="steps"), caps)


@answers
def show_upload(source) -> gr.File:
    return gr.File(visible=source == UPLOADED)


@answers
def clear_note() -> str:
    return ""


@answers
def refresh_model_lists(request: gr.Request, *, ctx: TrainContext, lists: tuple[tuple[type, tuple[str, ...]], ...]
                        ) -> list:
    """After a save: the other tabs' model lists (each a component class and its tasks) offer this session's
    models too."""
    session = sessions.session_of(request)
    return [kind(choices=[n for task in tasks for n in ctx.registry.names(task, session)]) for kind, tasks in lists]


def end_session(ctx: TrainContext, session: str | None) -> None:
    """A session ended (its page closed, or its state's time to live ran out): stop and forget its run, its
    saved models and its files (deleted once a stopping run has let go of them)."""
    if not session:
        return
    job = ctx.manager.forget(session)
    ctx.registry.drop_owner(session)
    HISTORY.drop_owner(session)
    with _options_lock:
        _options.pop(session, None)
    ctx.workspace.end_session(session, after=job.done if job is not None else None)


# --- layout and wiring ----------------------------------------------------------------------------------------


def layout(on_session_expired: Callable[[str], None]) -> SimpleNamespace:
    """Create the tab's components inside the current gr.Blocks / gr.Tab context; returns them by name.
    ``on_session_expired(session)``: called when the session's state outlives its time to live."""
    gr.Markdown(T("intro"))
    c = SimpleNamespace()
    c.session = gr.State(None, time_to_live=SESSION_SECONDS, delete_callback=on_session_expired)
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=300):
            c.kind = gr.Radio(kind_choices(), value="detr", label=T("task"), elem_id="train-kind")
            c.preset = gr.Dropdown(preset_choices(), value="tiny", label=T("preset"), elem_id="train-preset")
            c.preset_note = gr.Markdown(T(PRESET_NOTES["detr", "tiny"]))
            c.source = gr.Radio(source_choices(), value=GENERATED, label=T("data"))
            c.upload = gr.File(label=T("upload"), type="filepath", visible=False, elem_id="train-upload")
            with gr.Row():
                c.length = gr.Number(KINDS["detr"].presets["tiny"].demo_steps, label=T("train_for"), minimum=1,
                                     maximum=MAX_LENGTH, precision=2, min_width=100)
                c.unit = gr.Radio(unit_choices(), value="steps", label=T("unit"), min_width=120)
            with gr.Row():
                c.lr = gr.Number(_preset_value("detr", "tiny", "lr"), label=T("lr"), minimum=0, maximum=MAX_LR,
                                 min_width=100)
                c.batch = gr.Number(_preset_value("detr", "tiny", "batch_size"), label=T("batch"), minimum=1,
                                    maximum=MAX_BATCH, precision=0, min_width=100)
                c.snapshot_every = gr.Number(25, label=T("snapshot_every"), minimum=0, maximum=MAX_SNAPSHOT_EVERY,
                                             precision=0, min_width=100)
            c.limits = gr.Markdown(elem_id="train-limits")  # filled in the user's language on page load
            with gr.Row():
                c.start = gr.Button(T("start"), variant="primary", elem_id="train-start")
                c.stop = gr.Button(T("stop"), variant="stop", elem_id="train-stop")
            c.stop_note = gr.Markdown(elem_id="train-stop-note")
        with gr.Column(scale=5, min_width=480):
            c.status = gr.Markdown(T("status_idle"), elem_id="train-status")
            c.curves = gr.Plot(label=T("curves"), show_label=False, elem_id="train-curves")
            with gr.Row(equal_height=True):
                c.smoothing = gr.Slider(0, MAX_SMOOTHING, value=DEFAULT_SMOOTHING, step=0.01, label=T("smoothing"),
                                        info=T("smoothing_info"), elem_id="train-smoothing", min_width=160)
                c.log_y = gr.Checkbox(True, label=T("log_scale"), elem_id="train-log", min_width=120)
                c.compare = gr.CheckboxGroup([], label=T("compare"), info=T("compare_info"),
                                             elem_id="train-compare", min_width=240)
    with gr.Row(equal_height=False):
        with gr.Column(scale=5):
            gr.Markdown(T("snapshots_heading"))
            c.snapshot = gr.Image(label=T("snapshots"), show_label=False, interactive=False,
                                  format="jpeg", elem_id="train-snapshot", buttons=["fullscreen"])
            c.snapshot_note = gr.Markdown(T("snapshot_none"))  # RunView().snapshot_caption() of an empty run
        with gr.Column(scale=2, min_width=300):
            gr.Markdown(T("keep_heading"))
            c.model_name = gr.Textbox("my-model", label=T("name"), max_lines=1)
            c.save = gr.Button(T("save"), elem_id="train-save")
            c.saved_note = gr.Markdown(elem_id="train-saved")
            c.saved_files = gr.File(label=T("checkpoint"), file_count="multiple", interactive=False, visible=False)
            with gr.Accordion(T("hub"), open=False):
                c.repo_id = gr.Textbox(label=T("repo"), placeholder=T("repo_placeholder"), max_lines=1)
                c.token = gr.Textbox(label=T("token"), type="password", max_lines=1)
                c.private = gr.Checkbox(True, label=T("private"))
                c.push = gr.Button(T("push"))
                c.push_note = gr.Markdown()
    return c


def wire(c: SimpleNamespace, ctx: TrainContext) -> None:
    """Connect the components of `layout` to the handlers (API names and parameters as documented)."""
    def bound(handler):
        return bind(handler, ctx=ctx)

    gr.on(None, bound(localize), inputs=None, outputs=[c.kind, c.preset, c.source, c.unit, c.limits],
          api_visibility="private", show_progress="hidden", queue=False)
    gr.on([c.kind.change, c.preset.change], on_task, [c.kind, c.preset],
          [c.preset_note, c.lr, c.batch, c.length, c.unit], queue=False, api_visibility="private")
    gr.on(None, bound(first_view), inputs=None, outputs=[c.status, c.curves, c.snapshot, c.snapshot_note, c.compare],
          api_visibility="private", show_progress="hidden")
    gr.on([c.smoothing.release, c.log_y.input, c.compare.input], bound(redraw), [c.smoothing, c.log_y, c.compare],
          c.curves, api_visibility="private", show_progress="hidden", trigger_mode="always_last")
    c.source.change(show_upload, c.source, c.upload, queue=False, api_visibility="private")
    c.start.click(clear_note, None, c.stop_note, queue=False, api_visibility="private")
    # preprocess=False: the handler gets the raw values (checked there with readable messages) and the file payload
    c.start.click(bound(train), [c.kind, c.preset, c.source, c.upload, c.length, c.unit, c.lr, c.batch,
                                 c.snapshot_every],
                  [c.status, c.curves, c.snapshot, c.snapshot_note, c.session], api_name="train",
                  concurrency_id="train-stream", concurrency_limit=8, show_progress="minimal",
                  show_progress_on=[c.status], preprocess=False
                  ).then(bound(list_runs), c.compare, c.compare, api_visibility="private", show_progress="hidden")
    c.stop.click(bound(stop_training), None, c.stop_note, api_name="stop_training", queue=False)
    saved = c.save.click(bound(save_model), [c.model_name], [c.saved_note, c.saved_files, c.session],
                         api_name="save_model")
    dropdowns = _model_dropdowns()
    if dropdowns:
        lists = tuple((type(d), tasks) for d, tasks in dropdowns)
        saved.success(bind(refresh_model_lists, ctx=ctx, lists=lists), None, [d for d, _ in dropdowns],
                      api_visibility="private")
    c.push.click(bound(push_model), [c.repo_id, c.token, c.private], c.push_note, api_name="push_to_hub")


def _model_dropdowns() -> list[tuple[gr.Dropdown | gr.CheckboxGroup, tuple[str, ...]]]:
    """The Detect / Matching / Attention tabs' model dropdowns and the Detectors tab's model checkboxes built
    before this tab in the same gr.Blocks, with the tasks each offers."""
    root = gr.context.Context.root_block
    if root is None:
        return []
    return [(b, MODEL_DROPDOWNS[b.elem_id]) for b in root.blocks.values()
            if isinstance(b, (gr.Dropdown, gr.CheckboxGroup)) and b.elem_id in MODEL_DROPDOWNS]


def build_train_tab(registry: ModelRegistry, examples_dir: Path, manager: JobManager | None = None,
                    workspace: TrainingWorkspace | None = None) -> SimpleNamespace:
    """Lay out the tab inside the current gr.Blocks / gr.Tab context and wire its events; returns its components.
    examples_dir: unused (the data is generated or uploaded); kept for the tabs' common signature."""
    ctx = TrainContext(registry, manager or default_manager(), workspace or default_workspace(),
                       training_device(registry))
    closing = functools.partial(end_session, ctx)
    sessions.on_session_end(closing)
    components = layout(closing)
    wire(components, ctx)
    return components
