"""The Train tab's handlers called as plain functions (no browser, no server): values the API can send are checked
with specific messages, work folders exist only for accepted runs and go with their session, saved models are
offered to their own session only (at most `MAX_MODELS_PER_OWNER`), and a session's end drops all it held."""

from __future__ import annotations

import dataclasses
import time
import zipfile
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pytest

from cvdemo.datasets.shapes import ShapesConfig, write_shapes_dataset
from cvdemo.models.registry import MAX_MODELS_PER_OWNER, ModelRegistry, ModelUnavailableError
from cvdemo.training.jobs import JobLimits, JobManager
from cvdemo.training.kinds import KINDS
from cvdemo.training.presets import VIT_TRAINING_PRESETS
from cvdemo.training.trained_models import model_name
from cvdemo.training.workspace import TrainingWorkspace
from cvdemo.ui import sessions, train_tab
from cvdemo.ui.errors import is_answering

pytestmark = pytest.mark.usefixtures("one_torch_thread")

VALUES = dict(kind="vit", preset="test", source="Generated shapes", upload=None, length=1, unit="steps", lr=1e-3,
              batch=4, snapshot_every=0)


@pytest.fixture(autouse=True)
def test_preset(monkeypatch):
    vit = VIT_TRAINING_PRESETS["tiny"]
    monkeypatch.setitem(VIT_TRAINING_PRESETS, "test", dataclasses.replace(
        vit, name="test", model={**vit.model, "image_size": 32}, shapes={**vit.shapes, "image_size": 32},
        num_val_images=4, train={**vit.train, "eval_batch_size": 4}))


@pytest.fixture
def ctx(tmp_path):
    context = train_tab.TrainContext(ModelRegistry([], device="cpu"),
                                     JobManager(JobLimits(max_steps=50, max_seconds=60, max_queue=1)),
                                     TrainingWorkspace(tmp_path / "work"), "cpu")
    yield context
    context.manager.stop_all()
    assert context.manager.wait_idle(20)


def request(session: str = "alice") -> SimpleNamespace:
    """What the handlers read of a gr.Request: the session and the Accept-Language header."""
    return SimpleNamespace(session_hash=session, headers={"accept-language": "en"})


def train_to_end(ctx, session: str = "alice", **change) -> list[tuple]:
    return list(train_tab.train(*{**VALUES, **change}.values(), request(session), ctx=ctx))


def refusal(fn, *args, **kwargs) -> str:
    """The message of the gr.Error a handler answers with (a generator handler: at its first step)."""
    with pytest.raises(gr.Error) as raised:
        result = fn(*args, **kwargs)
        if hasattr(result, "__next__"):
            next(result)
    return raised.value.message


def coco_zip(tmp_path: Path, num_images: int = 4) -> Path:
    folder = tmp_path / "shapes"
    write_shapes_dataset(folder, num_images, seed=3, config=ShapesConfig(image_size=32, task="classify",
                                                                        min_size=0.4, max_size=0.9))
    archive = tmp_path / "upload.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                z.write(path, path.relative_to(folder).as_posix())
    return archive


def run_folders(ctx) -> list[Path]:
    """The run folders of every session; listed again when a folder vanishes while being listed (the session
    clean-up runs in another thread, and Python 3.11's glob raises on a folder deleted under it)."""
    while True:
        try:
            return sorted(ctx.workspace.root.glob("*/run-*"))
        except FileNotFoundError:
            continue


@pytest.mark.parametrize("change, expected", [
    ({"kind": "cnn"}, "Task must be one of: detr, vit, yolo, fasterrcnn, ssd (got 'cnn')."),
    ({"preset": "huge"}, "Preset must be one of: tiny, small, test (got 'huge')."),
    ({"source": "my disk"}, "Data must be one of: Generated shapes, My COCO zip (got 'my disk')."),
    ({"unit": "hours"}, "Unit must be one of: steps, epochs (got 'hours')."),
    ({"length": 0}, "Train for must be in [1, 1e+06] (got 0)."),
    ({"length": "long"}, "Train for must be a number in [1, 1e+06] (got 'long')."),
    ({"length": 1e12}, "Train for must be in [1, 1e+06] (got 1000000000000.0)."),
    ({"lr": 0.0}, "Learning rate must be in (0, 1] (got 0.0)."),
    ({"lr": "fast"}, "Learning rate must be a number in (0, 1] (got 'fast')."),
    ({"lr": 5}, "Learning rate must be in (0, 1] (got 5)."),
    ({"batch": 0}, "Batch size must be in [1, 256] (got 0)."),
    ({"batch": 2.5}, "Batch size must be a whole number in [1, 256] (got 2.5)."),
    ({"batch": "8"}, "Batch size must be a number in [1, 256] (got '8')."),
    ({"snapshot_every": -1}, "Snapshot every (steps) must be in [0, 1e+06] (got -1)."),
    ({"source": "My COCO zip"}, "Upload a COCO-format zip first, or choose the generated shapes."),
    ({"batch": 64, "length": 1}, None),  # a batch the generated data can serve: accepted
])
def test_api_values_are_checked_with_the_controls_limits(ctx, change, expected):
    if expected is None:
        assert train_to_end(ctx, **change)[-1][0].count("Done") == 1
        return
    assert refusal(train_tab.train, *{**VALUES, **change}.values(), request(), ctx=ctx) == expected
    assert ctx.manager.job_of("alice") is None and not run_folders(ctx)


def test_work_folders_exist_only_for_accepted_runs_and_go_with_the_session(ctx, tmp_path):
    not_zip = tmp_path / "data.zip"
    not_zip.write_text("not a zip")
    upload = {"path": str(not_zip), "meta": {"_type": "gradio.FileData"}}
    assert "not a zip archive" in refusal(train_tab.train, *{**VALUES, "source": "My COCO zip",
                                                            "upload": upload}.values(), request(), ctx=ctx)
    assert not run_folders(ctx)
    good = {"path": str(coco_zip(tmp_path)), "meta": {"_type": "gradio.FileData"}}
    too_big = {**VALUES, "source": "My COCO zip", "upload": good, "batch": 8}
    assert "fewer than one batch of 8" in refusal(train_tab.train, *too_big.values(), request(), ctx=ctx)
    assert not run_folders(ctx)  # the extracted zip of the refused run is gone too
    outputs = train_to_end(ctx, source="My COCO zip", upload=good)
    assert "your 4 images, 6 classes" in outputs[-1][0] and outputs[-1][-1] == "alice"
    first = run_folders(ctx)
    assert len(first) == 1
    train_to_end(ctx, source="My COCO zip", upload=good)  # the next run replaces the previous one's files
    second = run_folders(ctx)
    assert len(second) == 1 and second != first
    train_to_end(ctx)  # generated data: no files at all
    assert not run_folders(ctx)
    train_to_end(ctx, source="My COCO zip", upload=good)
    train_tab.end_session(ctx, "alice")
    assert not run_folders(ctx) and ctx.workspace.session_count() == 0 and ctx.manager.job_of("alice") is None


def test_a_session_that_already_trains_is_refused_before_any_file_is_written(ctx, tmp_path):
    good = {"path": str(coco_zip(tmp_path)), "meta": {"_type": "gradio.FileData"}}
    long_run = train_tab.train(*{**VALUES, "length": 50, "snapshot_every": 0}.values(), request(), ctx=ctx)
    next(long_run)
    assert ctx.manager.job_of("alice").active
    message = refusal(train_tab.train, *{**VALUES, "source": "My COCO zip", "upload": good}.values(), request(),
                      ctx=ctx)
    assert message == "You already have a training run; stop it before starting another."
    assert not run_folders(ctx)
    assert train_tab.stop_training(request(), ctx=ctx).startswith("*Stop requested at step")
    long_run.close()  # the page went away
    assert ctx.manager.job_of("alice").done.wait(20)
    assert train_tab.stop_training(request(), ctx=ctx) == "*No training run to stop.*"


def test_saved_models_belong_to_their_session_and_the_oldest_goes_beyond_the_limit(ctx):
    assert refusal(train_tab.save_model, "m", request(), ctx=ctx) == "Train a model first."
    assert "Save the trained model first" in refusal(train_tab.push_model, "me/m", "hf_x", True, request(),
                                                     ctx=ctx)
    train_to_end(ctx)
    notes, folders, registry = [], [], ctx.registry
    for k in range(MAX_MODELS_PER_OWNER + 1):
        note, files, state = train_tab.save_model("m", request(), ctx=ctx)
        notes.append(note)
        folders.append(Path(registry.spec("m" if k == 0 else f"m-{k + 1}", owner="alice").source))
        assert state == "alice" and "(in this browser session)" in note and len(files.value) == 2
    assert registry.owned("alice") == ["m-2", "m-3", "m-4"]
    assert "Your oldest saved model, **m**, was removed: a session keeps at most 3." in notes[-1]
    assert "removed" not in notes[0]
    assert not folders[0].exists() and all(f.is_dir() for f in folders[1:])
    assert registry.names("classify", "alice") == ["m-2", "m-3", "m-4"] and registry.names("classify", "bob") == []
    with pytest.raises(ModelUnavailableError):
        registry.get("m-4", owner="bob")
    assert refusal(train_tab.save_model, "m", request("bob"), ctx=ctx) == "Train a model first."
    # pushing: the last saved model, through the checks; this server is offline (HF_HUB_OFFLINE=1 in the tests)
    assert refusal(train_tab.push_model, "me/m", "", True, request(), ctx=ctx).startswith(
        "A Hugging Face token is needed")
    assert "not a Hub repository id" in refusal(train_tab.push_model, "../etc", "hf_x", True, request(), ctx=ctx)
    assert "Private repository must be one of" in refusal(train_tab.push_model, "me/m", "hf_x", "yes", request(),
                                                          ctx=ctx)
    assert "works offline" in refusal(train_tab.push_model, "me/m", "hf_x", True, request(), ctx=ctx)
    # the session ends: its models and files go
    sessions.on_session_end(lambda s: None)  # the registration hook takes any callback
    train_tab.end_session(ctx, "alice")
    assert registry.owned("alice") == [] and not any(f.exists() for f in folders)
    assert "Save the trained model first" in refusal(train_tab.push_model, "me/m", "hf_x", True, request(),
                                                     ctx=ctx)


def test_model_names_are_file_safe_and_unique():
    assert model_name("my detr", []) == "my-detr"
    assert model_name("..", []) == "my-model" and model_name("../../etc", []) == "etc"
    assert model_name(None, []) == "my-model" and model_name(42, ["my-model"]) == "my-model-2"
    assert model_name("a" * 100, []) == "a" * 40
    assert model_name("x", ["x", "x-2"]) == "x-3"


def test_a_session_ending_mid_run_stops_it_and_deletes_its_files_once_the_run_let_go(ctx, tmp_path):
    good = {"path": str(coco_zip(tmp_path)), "meta": {"_type": "gradio.FileData"}}
    stream = train_tab.train(*{**VALUES, "source": "My COCO zip", "upload": good, "length": 50}.values(),
                             request(), ctx=ctx)
    next(stream)
    job = ctx.manager.job_of("alice")
    train_tab.end_session(ctx, "alice")
    assert job.done.wait(20) and job.state in ("stopped", "finished")
    ctx.manager.wait_idle(10)
    deadline = time.monotonic() + 10
    while run_folders(ctx) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not run_folders(ctx) and ctx.manager.job_of("alice") is None
    stream.close()


def test_every_wired_handler_answers(ctx):
    with gr.Blocks() as demo:
        train_tab.build_train_tab(ctx.registry, Path("examples"), manager=ctx.manager, workspace=ctx.workspace)
    handlers = [fn.fn for fn in demo.fns.values() if fn.fn is not None]
    assert len(handlers) >= 8 and all(is_answering(h) for h in handlers)
    names = {fn.api_name for fn in demo.fns.values()}
    assert {"train", "stop_training", "save_model", "push_to_hub"} <= names
    caps = train_tab.localize(request(), ctx=ctx)[-1]
    assert caps == "*Runs on **cpu**; at most 50 steps and 1 min per run; a session keeps at most 3 saved models.*"
    assert train_tab.on_task("vit", "nope", request()) == (gr.skip(),) * 5
    assert train_tab.on_task("vit", "tiny", request())[1:] == (1e-3, 32, KINDS["vit"].presets["tiny"].demo_steps,
                                                                "steps")


def test_a_model_saved_in_one_session_is_not_offered_to_another_in_the_app(serve):
    """The whole app: the session that saved a model can /detect with it; another session is told it does not
    exist (the save message says "in this browser session", and that is true)."""
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    import app

    shape = str(sorted((Path(__file__).resolve().parents[1] / "examples" / "shapes").glob("*.png"))[0])
    demo = app.build_demo()
    url = serve(demo, **{**app.launch_settings(), "server_name": "127.0.0.1"})
    try:
        mine, other = Client(url, verbose=False), Client(url, verbose=False)
        job = mine.submit("detr", "tiny", "Generated shapes", None, 2, "steps", 2e-4, 2, 0, api_name="/train")
        job.result()
        assert "Done" in job.outputs()[-1][0], job.outputs()[-1][0]
        note, _ = mine.predict("just mine", api_name="/save_model")
        assert "Saved as **just-mine**" in note and "(in this browser session)" in note
        assert mine.predict(handle_file(shape), "just-mine", 0.5, api_name="/detect")[0] is not None
        with pytest.raises(AppError, match="Unknown model 'just-mine'"):
            other.predict(handle_file(shape), "just-mine", 0.5, api_name="/detect")
    finally:
        demo.close()


def test_a_crashing_run_fails_with_an_error_id_in_the_log_not_its_exception_text(caplog):
    from cvdemo.training.requests import TrainRequest, build_setup
    from cvdemo.ui.training_view import word

    class Broken:
        def __init__(self, dataset):
            self.categories, self.n = dataset.categories, len(dataset)

        def __len__(self):
            return self.n

        def __getitem__(self, index):
            raise OSError("/secret/path/image.png: disk on fire")

    setup = build_setup(TrainRequest(kind="vit", preset="test", length=2, batch_size=4, snapshot_every=0,
                                     num_val_images=4))
    setup.train_data = Broken(setup.train_data)
    manager = JobManager(JobLimits(max_steps=10, max_seconds=60))
    job = manager.submit("alice", setup)
    assert job.done.wait(20) and job.state == "failed" and job.error.key == "train.crashed"
    text = word(job.error)
    assert "secret" not in text and job.error.fields["error_id"] in text
    assert any(job.error.fields["error_id"] in r.getMessage() and r.exc_info for r in caplog.records)
