"""What keeps a public deployment up: identical concurrent requests all complete, per-session state and Gradio's
cache stay bounded however many sessions come, and results are dropped oldest first with a message."""

import io
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from gradio import processing_utils
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from cvdemo.models.registry import MAX_MODELS_PER_OWNER, ModelRegistry, ModelSpec, ModelUnavailableError
from cvdemo.session_store import RunStore, RunTooLargeError, StateDroppedError, nbytes
from cvdemo.ui import gradio_cache, sessions

pytestmark = [pytest.mark.timeout(600), pytest.mark.usefixtures("one_torch_thread")]

ROOT = Path(__file__).resolve().parents[1]
SHAPES = [str(p) for p in sorted((ROOT / "examples" / "shapes").glob("*.png"))]


# -- the bounded store ------------------------------------------------------------------------------------------
def test_run_store_keeps_per_session_and_global_caps_oldest_first():
    evicted = []
    store = RunStore("t", max_runs=3, max_bytes=10_000, per_session=2, on_evict=evicted.append)
    a1 = store.put("a", np.zeros(100, np.uint8))
    a2 = store.put("a", np.ones(100, np.uint8))
    a3 = store.put("a", np.full(100, 2, np.uint8))  # a1 goes: 2 per session
    with pytest.raises(StateDroppedError, match="Run it again"):
        store.get(a1)
    assert store.get(a2)[0] == 1 and store.get(a3)[0] == 2
    b1 = store.put("b", np.zeros(100, np.uint8))
    store.get(a2)  # a2 is now more recently used than a3
    store.put("c", np.zeros(100, np.uint8))  # 4 runs > 3: the least recently used (a3) goes
    with pytest.raises(StateDroppedError):
        store.get(a3)
    assert store.stats() == {"runs": 3, "bytes": 300, "sessions": 3}
    store.drop_session("a")
    with pytest.raises(StateDroppedError):
        store.get(a2)
    assert store.get(b1) is not None and len(evicted) == 3


def test_run_store_bytes_cap_and_too_large_runs():
    store = RunStore("t", max_runs=100, max_bytes=1000, per_session=100)
    tokens = [store.put(f"s{i}", np.zeros(300, np.uint8)) for i in range(5)]
    assert store.stats()["bytes"] <= 1000 and store.stats()["runs"] == 3
    with pytest.raises(StateDroppedError):
        store.get(tokens[0])
    with pytest.raises(RunTooLargeError, match="more than this server keeps"):
        store.put("s", np.zeros(2000, np.uint8))
    with pytest.raises(StateDroppedError):
        store.get(None)


def test_nbytes_counts_arrays_in_nested_data():
    from dataclasses import dataclass

    @dataclass
    class Run:
        image: np.ndarray
        maps: list
        meta: dict

    run = Run(np.zeros((10, 10, 3), np.uint8), [np.zeros(4, np.float32)], {"x": np.zeros(2, np.float64), "n": 3})
    assert nbytes(run) == 300 + 16 + 16


# -- saved models belong to their session -------------------------------------------------------------------------
def test_registry_scopes_added_models_to_their_owner(tmp_path):
    registry = ModelRegistry([ModelSpec("shared", str(tmp_path / "missing"), "detect")], device="cpu")
    for i in range(MAX_MODELS_PER_OWNER + 1):
        registry.add(ModelSpec(f"mine-{i}", str(tmp_path / f"m{i}"), "detect"), owner="alice")
    assert registry.names("detect", owner="alice") == ["shared"] + [f"mine-{i}" for i in
                                                                     range(1, MAX_MODELS_PER_OWNER + 1)]
    assert registry.names("detect", owner="bob") == ["shared"] and registry.names("detect") == ["shared"]
    with pytest.raises(ModelUnavailableError, match="Unknown model"):
        registry.spec("mine-1", owner="bob")
    with pytest.raises(ModelUnavailableError, match="Unknown model"):
        registry.spec("mine-0", owner="alice")  # the oldest was replaced
    with pytest.raises(ModelUnavailableError, match="image classifier|DETR detector"):
        registry.require("shared", "classify", owner="alice")
    registry.drop_owner("alice")
    assert registry.names("detect", owner="alice") == ["shared"]


# -- atomic image cache writes --------------------------------------------------------------------------------------
def test_image_outputs_are_never_rewritten_while_read(tmp_path):
    """Many threads save the same image while others read it: every read sees the complete file."""
    gradio_cache.install()
    assert processing_utils.save_pil_to_cache is gradio_cache.save_pil_to_cache_atomic
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (256, 256, 3), dtype=np.uint8))
    expected = processing_utils.encode_pil_to_bytes(image, "webp")
    path = Path(processing_utils.save_pil_to_cache(image, str(tmp_path)))
    short_reads, stop = [], threading.Event()

    def write():
        while not stop.is_set():
            processing_utils.save_pil_to_cache(image, str(tmp_path))

    def read():
        for _ in range(300):
            data = path.read_bytes()
            if data != expected:
                short_reads.append(len(data))

    writers = [threading.Thread(target=write) for _ in range(3)]
    readers = [threading.Thread(target=read) for _ in range(3)]
    for t in writers + readers:
        t.start()
    for t in readers:
        t.join()
    stop.set()
    for t in writers:
        t.join()
    assert short_reads == []
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no staging files left behind


# -- through the running app ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def running_app(serve):
    import app

    saved = app.CACHE_SWEEP_S, app.CACHE_MAX_AGE_S
    # sweep every second, files older than 10 s (2 s swept answers before a client on a loaded CPU fetched them)
    app.CACHE_SWEEP_S, app.CACHE_MAX_AGE_S = 1, 10
    demo = app.build_demo()
    app.CACHE_SWEEP_S, app.CACHE_MAX_AGE_S = saved
    url = serve(demo, **app.launch_settings())
    yield demo, url
    demo.close()


def test_identical_concurrent_requests_all_get_complete_answers(running_app):
    """16 clients send the same image at once, 6 times each (two users clicking the same example)."""
    _, url = running_app
    clients = [Client(url, verbose=False) for _ in range(16)]
    barrier, errors, images = threading.Barrier(16), [], []

    def run(client):
        barrier.wait()
        for _ in range(6):
            try:
                image, *_ = client.predict(handle_file(SHAPES[0]), "detr-shapes", 0.5, api_name="/detect")
                images.append(Path(image).read_bytes())
            except Exception as e:
                errors.append(f"{type(e).__name__}: {e}")

    threads = [threading.Thread(target=run, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(images) == 96 and len(set(images)) == 1  # the same, complete image for everyone
    Image.open(io.BytesIO(images[0])).verify()


def test_session_state_stays_bounded_over_many_sessions(running_app):
    """More sessions than the detect store keeps: it never holds more than its caps, and a session whose run was
    dropped is told so when it asks for a view of it."""
    _, url = running_app
    store = sessions.stores()["detect"]
    saved = store.max_runs
    store.max_runs = 4
    try:
        first = Client(url, verbose=False)
        first.predict(handle_file(SHAPES[0]), "detr-shapes", 0.5, api_name="/detect")
        for i in range(8):
            Client(url, verbose=False).predict(handle_file(SHAPES[i % len(SHAPES)]), "detr-shapes", 0.5,
                                               api_name="/detect")
            assert store.stats()["runs"] <= 4
        assert store.stats()["bytes"] <= store.max_bytes
        with pytest.raises(AppError, match="no longer kept"):
            first.predict(0.3, 2, "mean of heads", api_name="/filter")
    finally:
        store.max_runs = saved


def test_gradio_cache_is_swept(running_app):
    demo, url = running_app
    client = Client(url, verbose=False)
    image, *_ = client.predict(handle_file(SHAPES[1]), "detr-shapes", 0.5, api_name="/detect")
    kept = set().union(*(getattr(b, "keep_in_cache", set()) for b in demo.blocks.values()))  # examples
    created = [Path(p) for files in demo.temp_file_sets for p in list(files) if p not in kept]
    assert any(p.exists() for p in created)
    deadline = time.time() + 30  # CACHE_MAX_AGE_S (10 s here) and a sweep
    while time.time() < deadline and any(p.exists() for p in created):
        time.sleep(0.5)
    assert not any(p.exists() for p in created)


def test_readme_states_the_public_limits():
    import app

    readme = (ROOT / "README.md").read_text()
    assert "## Limits of a public deployment" in readme
    section = readme.split("## Limits of a public deployment", 1)[1].split("\n## ", 1)[0]
    size = app.MAX_FILE_SIZE.lower().removesuffix("mb")
    detect = sessions.stores()["detect"]
    for value in (f"{size} MB", f"at most {app.QUEUE_SIZE} requests", f"older than {app.CACHE_MAX_AGE_S // 60} min",
                  f"every {app.CACHE_SWEEP_S // 60} min", f"{detect.per_session} runs per session",
                  f"{detect.max_runs} runs / {detect.max_bytes // 2**20} MB"):
        assert value in section, value


def test_idle_sessions_end_and_free_what_they_hold(monkeypatch):
    """API clients never close their session: one idle for IDLE_SECONDS is ended by a later request, its runs
    dropped and its clean-up called."""
    from types import SimpleNamespace

    ended = []
    sessions.on_session_end(ended.append)
    store = sessions.store("test-idle", max_runs=10, max_bytes=10_000, per_session=2)
    clock = [sessions.time.monotonic()]
    monkeypatch.setattr(sessions.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(sessions, "_last_sweep", 0.0)
    token = store.put(sessions.session_of(SimpleNamespace(session_hash="idle-client")), np.zeros(10, np.uint8))
    clock[0] += sessions.IDLE_SECONDS / 2
    sessions.session_of(SimpleNamespace(session_hash="busy-client"))
    assert "idle-client" not in ended
    clock[0] += sessions.IDLE_SECONDS / 2 + sessions.SWEEP_SECONDS + 1
    sessions.session_of(SimpleNamespace(session_hash="busy-client"))
    assert "idle-client" in ended and "busy-client" not in ended
    with pytest.raises(StateDroppedError):
        store.get(token)


def test_gradio_keeps_a_bounded_number_of_sessions():
    import app

    assert app.launch_settings()["state_session_capacity"] == app.MAX_SESSIONS <= 1000


EXPLAIN_CLASS = ["method", "target", "layer", "head", "fusion", "discard", "start_layer"]
EXPLAIN_DETECTION = ["row", "method", "dec_layer", "dec_head", "target"]
# the public API as it was before issue 12 (names, order): clients that call it by keyword keep working
PUBLIC_API = {
    "/claims": ["claim"],
    "/detect": ["image_payload", "model_name", "thr"],
    "/detectors": ["image_payload", "model_names", "nms_iou", "score"],
    "/compare": ["dataset_payload", "preds_a_payload", "model_a", "preds_b_payload", "model_b", "iou_v", "score_v"],
    "/evaluate": ["dataset_payload", "preds_payload", "iou_v", "score_v", "model_name"],
    # issue 15's explanations: the Attention tab's class explanation, the Detect tab's detection explanation
    "/explain_class": EXPLAIN_CLASS,
    "/measure_class_faithfulness": EXPLAIN_CLASS,
    "/explain_detection": EXPLAIN_DETECTION,
    "/measure_detection_faithfulness": EXPLAIN_DETECTION,
    "/match": ["src", "index", "image_payload", "gt", "model_name", "wc", "wl", "wg"],
    "/push_to_hub": ["repo", "token_v", "private_v"],
    "/rollout": ["image_payload", "model_name", "fusion_v", "discard_v", "start_v"],
    "/save_model": ["name"],
    "/stop_training": [],
    "/train": ["kind_v", "preset_v", "source_v", "upload_v", "length_v", "unit_v", "lr_v", "batch_v", "snap_v"],
}


def test_the_public_api_keeps_its_endpoints_and_parameter_names(running_app):
    _, url = running_app
    info = Client(url, verbose=False).view_api(return_format="dict", print_info=False)
    api = {name: [p["parameter_name"] for p in endpoint["parameters"]]
           for name, endpoint in info["named_endpoints"].items()}
    assert api == PUBLIC_API


def test_a_store_size_can_be_set_for_the_server(monkeypatch):
    monkeypatch.setenv("CVDEMO_SIZED_STORE_MB", "2.5")
    assert sessions.store("sized", max_runs=4, max_bytes=1, per_session=1).max_bytes == int(2.5 * 2**20)
    monkeypatch.setenv("CVDEMO_BADLY_SIZED_STORE_MB", "lots")
    with pytest.raises(ValueError, match="CVDEMO_BADLY_SIZED_STORE_MB must be a number"):
        sessions.store("badly_sized", max_runs=4, max_bytes=1, per_session=1)
