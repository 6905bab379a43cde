"""The Claims tab (issue 16): every claim of the study notes as a controlled experiment, with its shipped results.

A dropdown lists the claims (name and verdict; the ones with results first); for the chosen one the tab shows the
notes' sentence, the verdict and what the rule expects, the learning curves (mean line and seed band per variant),
the table of final metrics and differences with their intervals, the paragraph on why the result may differ from
the paper, and the command and hardware that made the numbers. `/claims` (the claim's name) returns those six
outputs. The reports are read from ``experiments/results/`` on every page load and every call
(`cvdemo.claim_reports.claim_reports`), so results written while the app runs show after a reload. What it shows is
composed by `cvdemo.ui.claims_views`; text is in the browser's language (`cvdemo/ui/texts/claims.py`).

"Rerun live" runs a short version of the chosen claim (its first seed, ``live_steps`` updates per variant, default
two evaluation points) on this server through the Train tab's job manager (`cvdemo.ui.train_tab.default_manager`:
one run per device at a time, one per session): every variant to its first evaluation, then every variant on from
its checkpoint to the end (`rerun`), so that a first comparison comes early; the figure streams each variant's live
curve, dashed, beside the shipped bands (redrawn when a point comes; the status line says the step every
half second). "Stop" stops the session's run (the Train tab's too: one run per
session). Read apart: `layout()`, the handlers, `wire()`.
"""

from __future__ import annotations

import contextlib
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace

import gradio as gr

from cvdemo.claim_reports import RESULTS_DIR, ClaimReport, claim_reports
from cvdemo.experiments import CLAIMS, ClaimSpec, prepare_run, training_groups
from cvdemo.training.events import EvalEvent
from cvdemo.training.jobs import PAUSED, JobManager, TrainingJob, TrainingSetup
from cvdemo.ui import claims_views as views
from cvdemo.ui import sessions, validate
from cvdemo.ui.binding import bind
from cvdemo.ui.errors import answers, translate
from cvdemo.ui.i18n import locale_of
from cvdemo.ui.texts.claims import T
from cvdemo.ui.train_tab import default_manager

POLL_S = 0.5  # how often a live rerun's figure is redrawn
STOP_WAIT_S = 60  # a closed page's run: how long to wait for it to stop (before its next update) before moving on


def build_claims_tab(results_dir: str | Path = RESULTS_DIR, claims: Mapping[str, ClaimSpec] | None = None,
                     live_steps: int | None = None, manager: JobManager | None = None) -> None:
    """Lay out the tab inside the current gr.Blocks / gr.Tab context and wire its events. claims: default the
    notes' (`cvdemo.experiments.CLAIMS`); live_steps: updates per variant of a live rerun (default two evaluation
    points); manager: default the Train tab's job manager."""
    claims = CLAIMS if claims is None else claims
    source = SimpleNamespace(results_dir=Path(results_dir), claims=claims, live_steps=live_steps, stops={},
                             manager=manager or default_manager())
    wire(layout(claim_reports(results_dir, claims)), source)


def first_claim(reports: list[ClaimReport]) -> str | None:
    """The claim the tab opens with: the first with shipped results (else the first of all)."""
    shipped = [r.name for r in reports if r.shipped]
    return (shipped or [r.name for r in reports] or [None])[0]


# ---------------------------------------------------------------- layout

def layout(reports: list[ClaimReport]) -> SimpleNamespace:
    ui = SimpleNamespace()
    gr.Markdown(T("intro"))
    ui.claim = gr.Dropdown([views.choice(r) for r in reports], value=first_claim(reports), label=T("claim_label"),
                           info=T("claim_info"), elem_id="claims-claim")
    ui.sentence = gr.Markdown(elem_id="claims-sentence")
    ui.verdict = gr.Markdown(elem_id="claims-verdict")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=360):
            ui.plot = gr.Plot(show_label=False, elem_id="claims-plot")
        with gr.Column(scale=2, min_width=300):
            ui.table = gr.Markdown(elem_id="claims-table")
    with gr.Row(equal_height=True):
        ui.rerun_btn = gr.Button(T("rerun_button"), variant="primary", scale=0, min_width=200,
                                 elem_id="claims-rerun")
        ui.stop_btn = gr.Button(T("stop_button"), variant="stop", scale=0, min_width=100, elem_id="claims-stop")
        ui.live_status = gr.Markdown(T("rerun_info"), elem_id="claims-live")
    ui.why = gr.Markdown(elem_id="claims-why")
    ui.provenance = gr.Markdown(elem_id="claims-provenance")
    return ui


# ---------------------------------------------------------------- handlers

def _report(claim, source: SimpleNamespace, locale: str) -> ClaimReport:
    reports = {r.name: r for r in claim_reports(source.results_dir, source.claims)}
    claim = validate.choice(claim, list(reports), name=T.text("claim_label", locale), locale=locale)
    return reports[claim]


def show(claim, request: gr.Request, *, source: SimpleNamespace):
    """/claims: the chosen claim's sentence, verdict, figure, table, why-paragraph and provenance."""
    locale = locale_of(request)
    return views.views(_report(claim, source, locale), locale)


def rerun(claim, request: gr.Request, *, source: SimpleNamespace):
    """Rerun live: the claim's first seed, a short run of each training through the job manager (variants that
    differ only in evaluation share one: `training_groups`); yields (figure, status) as the runs go.

    Two rounds, so that the first comparison comes as soon as it can: every training runs to its first evaluation
    and stops there with a checkpoint (in a temporary folder of this rerun, deleted at its end), then every
    training resumes from it to the end (the engine's resume continues exactly as the uninterrupted run). Stops at
    the first run that neither finishes nor pauses."""
    locale, owner = locale_of(request), sessions.session_of(request)
    report = _report(claim, source, locale)
    spec = source.claims[report.name]
    spec.require_runnable()
    steps, seed, started = source.live_steps or 2 * spec.eval_every, spec.seeds[0], time.monotonic()
    live: dict[str, list[tuple[int, float]]] = {}
    drawn = -1  # live points in the figure last sent: it is redrawn only when a point comes (the status every poll)
    groups = training_groups(spec)
    pause_at = spec.eval_every if steps > spec.eval_every else None  # round 1 ends at the first evaluation
    finished: set[int] = set()  # trainings that ran to the end in round 1 (short runs): nothing to resume
    stopped = source.stops[owner] = threading.Event()  # Stop pressed: also between runs, or as one pauses
    checkpoints = tempfile.TemporaryDirectory(prefix="cvdemo-claims-", ignore_cleanup_errors=True)
    rounds = (False, True) if pause_at else (False,)  # resuming?
    schedule = [(resuming, i, group) for resuming in rounds for i, group in enumerate(groups, 1)]
    with checkpoints as scratch, _forgotten(source.stops, owner):
        for resuming, i, (trained, *also) in schedule:
            if i in finished:
                continue
            variant = " + ".join((trained, *also))
            if stopped.is_set():
                yield views.figure(report, locale, live, seed), views.live_status(
                    "stopped", locale, variant=variant, step=pause_at if resuming else 0, reason="")
                return
            run = prepare_run(spec, trained, seed, also=also, steps=steps, device="cpu")
            folder = Path(scratch) / str(i)
            pausing = pause_at is not None and not resuming
            run.config.checkpoint_dir = str(folder) if pausing else None  # written when the pause stops it
            job = source.manager.submit(owner, TrainingSetup(
                run.model, run.task, run.train, run.val, run.config,
                model_task="classify" if spec.task == "classify" else "detect",
                pause_at=pause_at if pausing else None, resume_from=folder if resuming else None))
            for v in run.metric_keys:
                live.setdefault(v, [])
            try:
                for _ in _follow(job, run.metric_keys, live):
                    points = sum(len(p) for p in live.values())
                    figure = views.figure(report, locale, live, seed) if points != drawn else gr.skip()
                    drawn = points
                    yield figure, views.live_status("running", locale, seed=seed, variant=variant, i=i,
                                                    n=len(groups), step=job.steps_done, steps=steps)
            finally:  # the page went away (the generator is closed): the run stops too, and its last
                if job.active:  # checkpoint is written before the temporary folder goes
                    job.request_stop("page closed")
                    job.done.wait(STOP_WAIT_S)
            paused = pausing and job.state == "stopped" and job.stop_reason == PAUSED and not stopped.is_set()
            if job.state == "finished":
                finished.add(i)
            elif not paused:
                state = "failed" if job.state == "failed" else "stopped"
                reason = translate(job.error, locale) if job.error is not None else ""
                yield views.figure(report, locale, live, seed), views.live_status(
                    state, locale, variant=variant, step=job.steps_done, reason=reason)
                return
    yield views.figure(report, locale, live, seed), views.live_status(
        "finished", locale, seconds=f"{time.monotonic() - started:.0f}")


@contextlib.contextmanager
def _forgotten(stops: dict, owner: str):
    """The session's stop flag is dropped when its rerun ends, however it ends (the dict stays bounded)."""
    try:
        yield
    finally:
        stops.pop(owner, None)


def _follow(job: TrainingJob, metric_keys: dict[str, str], live: dict[str, list[tuple[int, float]]]):
    """Yield every POLL_S while ``job`` runs (and once at its end), appending each variant's evaluations (its
    metric's key in the EvalEvents: ``metric_keys``) to ``live[variant]``."""
    cursor = 0
    while True:
        done = job.done.is_set()
        events, cursor = job.poll(cursor)
        for e in events:
            if isinstance(e, EvalEvent):
                for variant, key in metric_keys.items():
                    if key in e.metrics:
                        live[variant].append((e.step, float(e.metrics[key])))
        yield
        if done:
            return
        time.sleep(POLL_S)


def stop(request: gr.Request, *, source: SimpleNamespace):
    """Stop: the session's run stops before its next step, and its live rerun starts no other run (the rerun then
    reports it stopped)."""
    owner = sessions.session_of(request)
    if owner in source.stops:
        source.stops[owner].set()
    source.manager.stop(owner)


def localize(request: gr.Request, *, source: SimpleNamespace):
    """On page load: the dropdown's entries in the user's language and the first shipped claim shown."""
    locale = locale_of(request)
    reports = claim_reports(source.results_dir, source.claims)
    first = first_claim(reports)
    dropdown = gr.update(choices=[views.choice(r, locale) for r in reports], value=first)
    if first is None:
        return dropdown, *(gr.skip(),) * 6
    return dropdown, *views.views(next(r for r in reports if r.name == first), locale)


# ---------------------------------------------------------------- wiring

def wire(ui: SimpleNamespace, source: SimpleNamespace) -> None:
    outputs = [ui.sentence, ui.verdict, ui.plot, ui.table, ui.why, ui.provenance]
    ui.claim.input(answers(bind(show, source=source)), inputs=[ui.claim], outputs=outputs,
                   api_name="claims", show_progress="hidden", trigger_mode="always_last")
    ui.rerun_btn.click(answers(bind(rerun, source=source)), inputs=[ui.claim], outputs=[ui.plot, ui.live_status],
                       api_visibility="private", show_progress="hidden", concurrency_limit=None)
    ui.stop_btn.click(answers(bind(stop, source=source)), inputs=None, outputs=None, api_visibility="private",
                      show_progress="hidden", queue=False)
    # triggers=None: on page load only
    gr.on(None, answers(bind(localize, source=source)), inputs=None, outputs=[ui.claim, *outputs],
          api_visibility="private", show_progress="hidden", queue=False)
