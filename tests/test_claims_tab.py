"""The Claims tab (issue 16, Deliver 4): the reports read from the shipped results and from a tiny synthetic results
file, `/claims` through gradio_client for every shipped claim in English and Chinese, and the page in headless
Chromium (the first shipped claim shown, its figure and verdict, switching claims) in both languages."""

from __future__ import annotations

import dataclasses
import json
import math
import re
import tempfile
from types import SimpleNamespace

import gradio as gr
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from cvdemo.claim_reports import RESULTS_DIR, claim_reports, curve_band, run_command, shipped_report
from cvdemo.experiments import (
    CLAIMS,
    ClaimSpec,
    Overrides,
    RunRecord,
    prepare_run,
    recomputed_verdict,
    train_one,
    write_claim_results,
)
from cvdemo.experiments.results import read_claim_results
from cvdemo.training.events import EvalEvent
from cvdemo.training.jobs import PAUSED, JobManager, TrainingSetup
from cvdemo.ui import claims_views as views
from cvdemo.ui.claims_tab import _follow, build_claims_tab, rerun, stop
from cvdemo.ui.i18n import gradio_i18n
from cvdemo.ui.texts.claims import T

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SHIPPED = sorted(p.stem for p in RESULTS_DIR.glob("*.json"))
ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}
RAW_KEY = re.compile(r"\bclaims\.[a-z_]+\b")


# ---------------------------------------------------------------- the reports

def test_every_shipped_claim_is_read_with_its_verdict_bands_and_table():
    assert len(SHIPPED) >= 2
    reports = {r.name: r for r in claim_reports()}
    assert set(reports) == set(CLAIMS) | set(SHIPPED)
    listed = [r.name for r in claim_reports()]
    assert listed[:len(SHIPPED)] == [n for n in CLAIMS if n in SHIPPED] + sorted(set(SHIPPED) - set(CLAIMS))
    for name in SHIPPED:
        report, doc = reports[name], read_claim_results(RESULTS_DIR / f"{name}.json")
        assert report.shipped and report.verdict == doc["verdict"] == recomputed_verdict(doc)
        assert [c.variant for c in report.curves] == list(doc["variants"]) == [v.variant for v in report.variants]
        for band, (variant, entry) in zip(report.curves, doc["variants"].items()):
            assert band.steps and all(lo <= m <= hi for lo, m, hi in zip(band.low, band.mean, band.high)), variant
            assert max(band.n) == len(entry["seeds"])
            last = [c[-1][1] for c in entry["curves"] if c[-1][0] == band.steps[-1]]
            assert band.mean[-1] == pytest.approx(sum(last) / len(last))
        for row in report.variants:
            stats = doc["statistics"]["variants"][row.variant]
            assert (row.n, row.mean, row.std) == (stats["n"], stats["mean"], stats["std"])
        for row, stored in zip(report.comparisons, doc["statistics"]["comparisons"], strict=True):
            assert (row.a, row.b) == (stored["a"], stored["b"])
            assert row.low == pytest.approx(stored["low"]) and row.high == pytest.approx(stored["high"])
        assert report.commands and report.hardware and report.claim_zh and report.why_en and report.why_zh
    pending = [r for r in reports.values() if not r.shipped]
    assert all(r.verdict is None and r.commands == (run_command(r.name),) for r in pending)
    assert all(r.status == ("needs" if CLAIMS[r.name].needs else "not_run") for r in pending)


def _spec(name: str = "tiny-claim", **kw) -> ClaimSpec:
    return ClaimSpec(name=name, section="3.5.2", claim_en="A beats B.", claim_zh="A 胜过 B。", task="classify",
                     preset="tiny", varied="ViTConfig.act_layer",
                     variants={"A": Overrides(model={"act_layer": "gelu"}),
                               "B": Overrides(model={"act_layer": "relu"})}, comparisons=(("A", "B"),),
                     metric="accuracy", direction="higher", relation="better", steps=20, eval_every=10, seeds=(0, 1),
                     why_may_differ_en="Tiny.", why_may_differ_zh="很小。", **kw)


def _record(variant: str, seed: int, curve: list[tuple[int, float]]) -> RunRecord:
    return RunRecord(claim="tiny-claim", variant=variant, seed=seed, final=curve[-1][1], curve=curve, seconds=1.5,
                     num_parameters=1000, settings={"steps": 20}, hardware={"cpu": "test CPU", "cpu_count": 2,
                                                                           "device": "cpu", "torch": "x"})


def test_a_synthetic_results_file_gives_hand_computed_bands(tmp_path):
    records = [_record("A", 0, [(10, 0.5), (20, 0.8)]), _record("A", 1, [(10, 0.7), (20, 0.9)]),
               _record("B", 0, [(10, 0.2), (20, 0.3)]), _record("B", 1, [(20, 0.35)])]
    write_claim_results(tmp_path, _spec(), records, ["python -m x"])
    report = shipped_report(tmp_path / "tiny-claim.json")
    a, b = report.curves
    assert a.steps == (10, 20) and a.mean == pytest.approx((0.6, 0.85)) and a.low == (0.5, 0.8)
    assert a.high == (0.7, 0.9) and a.n == (2, 2)
    assert b.steps == (10, 20) and b.n == (1, 2) and b.mean == pytest.approx((0.2, 0.325))
    assert report.variants[0].mean == pytest.approx(0.85) and report.variants[0].std == pytest.approx(
        math.sqrt(0.005))
    assert report.verdict == "supported" and report.comparisons[0].verdict == "supported"
    assert report.commands == ("python -m x",) and report.pairs == (("A", "B"),)
    # a diverged evaluation (None) is left out of the band
    assert curve_band("C", [[[10, None], [20, 0.4]], [[10, 0.1], [20, float("nan")]]]).n == (1, 1)
    # the catalogue's other claims: not run, or waiting for a model option; a file being written counts as not run
    other = _spec("tiny-other", needs=("an option",))
    (tmp_path / "tiny-half.json").write_text('{"claim": "tiny-h')
    listed = claim_reports(tmp_path, {"tiny-other": other, "tiny-claim": _spec(), "tiny-half": _spec("tiny-half")})
    assert [(r.name, r.status) for r in listed] == [("tiny-claim", "shipped"), ("tiny-other", "needs"),
                                                     ("tiny-half", "not_run")]
    assert "an option" in views.provenance(listed[1], "en") and "--claim tiny-half" in views.provenance(listed[2])


def test_a_file_whose_verdict_is_not_the_rules_is_refused(tmp_path):
    records = [_record(v, s, [(20, 0.5 + 0.1 * s)]) for v in "AB" for s in (0, 1)]
    path = write_claim_results(tmp_path, _spec(), records, ["python -m x"])
    doc = json.loads(path.read_text())
    assert doc["verdict"] == "not distinguishable at this scale"
    path.write_text(json.dumps({**doc, "verdict": "supported"}))
    with pytest.raises(ValueError, match="is not the rule's"):
        shipped_report(path)


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_every_claim_is_worded_in_both_languages(locale):
    for report in claim_reports():
        sentence, verdict, fig, table, why, provenance = views.views(report, locale)
        text = "\n".join([sentence, verdict, table, why, provenance, fig.layout.title.text])
        assert not RAW_KEY.search(text) and "{" not in text.replace("{\n", ""), text
        assert views.verdict_word(report, locale) in verdict
        assert (report.claim_zh if locale == "zh-CN" else report.claim_en) in sentence
        assert len(fig.data) == 2 * len(report.curves)
        if report.shipped:
            assert all(v.variant in table for v in report.variants) and report.commands[0] in provenance


# ---------------------------------------------------------------- the tab

@pytest.fixture(scope="module")
def app_url(serve):
    with gr.Blocks() as demo:
        build_claims_tab()
    demo.queue()
    url = serve(demo, enable_monitoring=False, i18n=gradio_i18n())
    yield url
    demo.close()


@pytest.mark.parametrize("headers, locale", [({}, "en"), (ZH, "zh-CN")])
def test_claims_answers_every_claim_through_the_api(app_url, headers, locale):
    client = Client(app_url, verbose=False, headers=headers)
    for report in claim_reports():
        sentence, verdict, plot, table, why, provenance = client.predict(report.name, api_name="/claims")
        assert (report.claim_zh if locale == "zh-CN" else report.claim_en) in sentence
        assert views.verdict_word(report, locale) in verdict and table == views.table(report, locale)
        assert why == views.why(report, locale) and provenance == views.provenance(report, locale)
        assert plot is not None
    with pytest.raises(AppError):
        client.predict("no-such-claim", api_name="/claims")


def _text(selector: str) -> str:
    return f"(document.querySelector('{selector}') || {{innerText: ''}}).innerText"


@pytest.mark.parametrize("locale, lang", [("en-US", "en"), ("zh-CN", "zh-CN")])
def test_the_page_opens_with_the_first_shipped_claim_and_switches(app_url, page_in, locale, lang):
    reports = claim_reports()
    first, second = reports[0], reports[1]
    assert first.shipped
    page, errors = page_in(locale)
    page.goto(app_url)
    word = views.verdict_word(first, lang)
    page.wait_for_function(f"{_text('#claims-verdict')}.includes({word!r})", timeout=60_000)
    page.wait_for_selector("#claims-plot .js-plotly-plot", timeout=30_000)
    assert first.variants[0].variant in page.inner_text("#claims-table")
    title = T.text("figure_title", lang, metric=views.metric_name(first.metric, lang))
    page.wait_for_function(f"document.querySelector('#claims-plot').textContent.includes({title[:12]!r})",
                           timeout=30_000)
    page.locator("#claims-claim input").click()
    label = views.choice(second, lang)[0]
    page.get_by_role("option", name=label, exact=True).click()
    claim = second.claim_zh if lang == "zh-CN" else second.claim_en  # two claims may share a section of the notes
    page.wait_for_function(f"{_text('#claims-sentence')}.includes({claim[:20]!r}) && "
                           f"{_text('#claims-verdict')}.includes({views.verdict_word(second, lang)!r})",
                           timeout=30_000)
    assert f"§{second.section}" in page.inner_text("#claims-sentence")
    assert not errors, errors


# ---------------------------------------------------------------- rerun live

def _tiny_live_spec() -> ClaimSpec:
    return dataclasses.replace(_spec(), eval_every=2, hint=False, num_train_images=32, num_val_images=16)


@pytest.fixture(scope="module")
def live_urls(serve, tmp_path_factory):
    """Two tabs on a tiny claim with shipped synthetic results: live reruns of 4 updates, and of 5000 (to stop)."""
    root = tmp_path_factory.mktemp("live")
    records = [_record("A", s, [(2, 0.3 + 0.1 * s), (4, 0.5 + 0.1 * s)]) for s in (0, 1)]
    records += [_record("B", s, [(2, 0.2 + 0.1 * s), (4, 0.3 + 0.1 * s)]) for s in (0, 1)]
    write_claim_results(root, _spec(), records, ["python -m x"])
    urls, demos = [], []
    for steps in (4, 5000):
        with gr.Blocks() as demo:
            build_claims_tab(root, {"tiny-claim": _tiny_live_spec()}, live_steps=steps, manager=JobManager())
        demo.queue()
        urls.append(serve(demo, enable_monitoring=False, i18n=gradio_i18n()))
        demos.append(demo)
    yield urls
    for demo in demos:
        demo.close()


def _live_traces(page) -> int:
    return page.evaluate("(() => { const p = document.querySelector('#claims-plot .js-plotly-plot');"
                         " return p && p.data ? p.data.filter(t => t.line && t.line.dash === 'dash'"
                         " && t.x.length > 0).length : 0; })()")


@pytest.mark.timeout(120)
def test_rerun_live_streams_each_variant_beside_the_shipped_curves_and_stops(live_urls, page_in):
    finish_url, stop_url = live_urls
    page, errors = page_in("en-US")
    page.goto(finish_url)
    page.wait_for_selector("#claims-plot .js-plotly-plot", timeout=30_000)
    page.click("#claims-rerun")
    page.wait_for_function(f"{_text('#claims-live')}.includes('Live rerun finished')", timeout=60_000)
    assert _live_traces(page) == 2  # A and B, dashed, beside the two shipped bands
    assert "A (live, seed 0)" in page.inner_text("#claims-plot")
    page.goto(stop_url)
    page.wait_for_selector("#claims-plot .js-plotly-plot", timeout=30_000)
    page.click("#claims-rerun")
    page.wait_for_function("(() => { const p = document.querySelector('#claims-plot .js-plotly-plot');"
                           " return p && p.data && p.data.some(t => t.line && t.line.dash === 'dash'"
                           " && t.x.length > 0); })()", timeout=60_000)  # the first live point streamed in
    page.click("#claims-stop")  # A may have paused at its first point already: the stop lands on A or B
    page.wait_for_function(f"{_text('#claims-live')}.includes('Live rerun stopped at ')", timeout=30_000)
    assert not errors, errors


def test_a_rerun_shows_every_variants_first_point_before_any_second_and_matches_a_straight_run(
        tmp_path, monkeypatch):
    """Round 1 runs every variant to its first evaluation and pauses it; round 2 resumes each from its checkpoint:
    the first comparison comes before any variant's second point, and each live curve is the uninterrupted run's."""
    spec = _tiny_live_spec()
    seen = []
    monkeypatch.setattr(views, "figure", lambda report, locale, live, seed: seen.append(
        {v: list(p) for v, p in live.items()}))
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # where the rerun's checkpoint folder goes
    source = SimpleNamespace(results_dir=tmp_path, claims={spec.name: spec}, live_steps=6, manager=JobManager(),
                             stops={})
    request = gr.Request(session_hash="rounds", headers={"accept-language": "en"})
    *_, (_, status) = rerun(spec.name, request, source=source)
    assert "Live rerun finished" in status
    first = next(live for live in seen if all(live.get(v) for v in ("A", "B")))
    assert {v: [s for s, _ in p] for v, p in first.items()} == {"A": [2], "B": [2]}
    for variant in ("A", "B"):
        assert seen[-1][variant] == train_one(spec, variant, 0, steps=6).curve  # resumed exactly
    assert not list(scratch.iterdir())  # the checkpoints' folder is gone


def test_a_rerun_of_variants_that_share_a_training_follows_each_from_one_job():
    """The one-to-many model, evaluated without and with NMS: one job, both variants' live points."""
    spec = CLAIMS["detr-one-to-one-no-nms"]
    short = dataclasses.replace(spec, eval_every=1, num_val_images=2,
                                base=spec.base.merged(Overrides(train={"batch_size": 2, "eval_batch_size": 2})))
    run = prepare_run(short, "one-to-many, no NMS", 0, also=["one-to-many + NMS"], steps=2)
    job = JobManager().submit("me", TrainingSetup(run.model, run.task, run.train, run.val, run.config))
    live = {v: [] for v in run.metric_keys}
    for _ in _follow(job, run.metric_keys, live):
        pass
    assert job.state == "finished"
    assert {v: [s for s, _ in p] for v, p in live.items()} == {"one-to-many, no NMS": [1, 2],
                                                              "one-to-many + NMS": [1, 2]}


def test_a_job_pauses_after_its_evaluation_at_pause_at_and_resumes_from_its_checkpoint(tmp_path):
    spec = _tiny_live_spec()
    manager = JobManager()

    def submit(**setup):
        run = prepare_run(spec, "A", 0, steps=6)
        run.config.checkpoint_dir = str(tmp_path) if "pause_at" in setup else None
        job = manager.submit("me", TrainingSetup(run.model, run.task, run.train, run.val, run.config, **setup))
        job.done.wait(60)
        return job, [e.step for e in job.poll(0)[0] if isinstance(e, EvalEvent)]

    paused, evals = submit(pause_at=3)  # the first evaluation at or after update 3: update 4
    assert (paused.state, paused.stop_reason, paused.steps_done, evals) == ("stopped", PAUSED, 4, [2, 4])
    resumed, evals = submit(resume_from=tmp_path)
    assert (resumed.state, evals) == ("finished", [6])


def test_stop_ends_a_rerun_whichever_run_or_pause_it_lands_in(tmp_path):
    spec = _tiny_live_spec()
    source = SimpleNamespace(results_dir=tmp_path, claims={spec.name: spec}, live_steps=5000, manager=JobManager(),
                             stops={})
    request = gr.Request(session_hash="stopper", headers={"accept-language": "en"})
    updates = rerun(spec.name, request, source=source)
    for _ in updates:  # until A pauses at its first evaluation: no run is going when Stop comes
        if source.manager.job_of("stopper").stop_reason == PAUSED:
            break
    stop(request, source=source)
    *_, (_, status) = updates
    assert "Live rerun stopped at **A**" in status or "Live rerun stopped at A" in status
    assert not source.manager.job_of("stopper").active and source.stops == {}
