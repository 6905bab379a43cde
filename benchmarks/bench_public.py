"""A public deployment under load: `/detect` latency with 1 and 16 concurrent clients, and the server's memory
after many sessions, for this checkout and (optionally) an earlier one, measured side by side in one run.

    python -m benchmarks.bench_public [--before /path/to/older/checkout] [--calls 30] [--sessions 150]

Each checkout's app (`app.build_demo()` with its shipped checkpoints, `launch_settings()`) runs as its own server
process on a free local port; the phases alternate between the servers so that both see the same machine:
  1 client    `--calls` sequential `/detect` calls (a 128 px shapes example, the shipped detr-shapes, threshold
              0.5), end to end through gradio_client (upload, queue, model, drawing, downloading the images);
  16 clients  16 threads, each its own gradio_client session, each sending the SAME image 10 times at once
              (two users clicking the same example): latency of the successful calls and the number of failures;
  sessions    `--sessions` new sessions, each running `/detect` once on a large image (2000x1500, kept at
              1333x1000 by the loader), then the server's resident memory (VmRSS) against its value after warm-up.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from gradio_client import Client, handle_file
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SERVER = """
import logging, sys
sys.path.insert(0, {root!r})
logging.basicConfig(level=logging.WARNING)
import app
demo = app.build_demo()
settings = {{**app.launch_settings(), "server_port": {port}, "quiet": True}}
demo.launch(**settings)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One checkout's app in a subprocess."""

    def __init__(self, name: str, root: Path, log_dir: Path):
        self.name, self.port = name, free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        log = open(log_dir / f"{name}.log", "w")
        self.proc = subprocess.Popen([sys.executable, "-c", SERVER.format(root=str(root), port=self.port)],
                                     cwd=root, stdout=log, stderr=subprocess.STDOUT, env={**os.environ})
        deadline = time.time() + 180
        while time.time() < deadline:
            try:
                Client(self.url, verbose=False)
                return
            except Exception:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{name} server exited; see {log_dir / (name + '.log')}") from None
                time.sleep(1)
        raise RuntimeError(f"{name} server did not start")

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def detect(client: Client, image: str) -> float:
    start = time.perf_counter()
    client.predict(handle_file(image), "detr-shapes", 0.5, api_name="/detect")
    return (time.perf_counter() - start) * 1000


def one_client(server: Server, images: list[str], calls: int) -> list[float]:
    client = Client(server.url, verbose=False)
    for image in images[:2]:
        detect(client, image)  # warm-up
    return [detect(client, images[i % len(images)]) for i in range(calls)]


def many_clients(server: Server, image: str, clients: int = 16, calls: int = 10) -> tuple[list[float], list[str]]:
    handles = [Client(server.url, verbose=False) for _ in range(clients)]
    times, errors, lock = [], [], threading.Lock()
    barrier = threading.Barrier(clients)

    def run(client: Client) -> None:
        barrier.wait()
        for _ in range(calls):
            try:
                ms = detect(client, image)
                with lock:
                    times.append(ms)
            except Exception as e:  # what a user would see
                with lock:
                    errors.append(f"{type(e).__name__}: {str(e)[:120]}")

    threads = [threading.Thread(target=run, args=(c,)) for c in handles]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return times, errors


def sessions(server: Server, image: str, count: int) -> tuple[float, float, int, list[float]]:
    """(RSS before, RSS after, failed calls, RSS after every 50 sessions) for ``count`` new sessions with one
    large /detect each."""
    before = server.rss_mb()
    failed, trace = 0, []
    for i in range(count):
        try:
            detect(Client(server.url, verbose=False), image)
        except Exception:
            failed += 1
        if (i + 1) % 50 == 0:
            trace.append(server.rss_mb())
    time.sleep(2)
    return before, server.rss_mb(), failed, trace


def pct(ms: list[float]) -> str:
    if not ms:
        return "no successful call"
    p50, p95 = np.percentile(ms, [50, 95])
    return f"p50 {p50:7.1f} ms  p95 {p95:7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", type=Path, help="an earlier checkout of cvdemo to compare with")
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--sessions", type=int, default=150)
    args = parser.parse_args()
    images = [str(p) for p in sorted((ROOT / "examples" / "shapes").glob("*.png"))]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        large = str(tmp / "large.png")
        rng = np.random.default_rng(0)
        base = (rng.random((150, 200, 3)) * 255).astype(np.uint8)
        Image.fromarray(base).resize((2000, 1500), Image.BILINEAR).save(large)
        roots = ([("before", args.before.resolve())] if args.before else []) + [("after", ROOT)]
        servers = [Server(name, root, tmp) for name, root in roots]
        try:
            results: dict[str, dict] = {s.name: {} for s in servers}
            for s in servers:
                results[s.name]["one"] = one_client(s, images, args.calls)
            for s in servers:
                results[s.name]["many"] = many_clients(s, images[0])
            for s in servers:
                results[s.name]["rss"] = sessions(s, large, args.sessions)
        finally:
            for s in servers:
                s.close()
    print(f"/detect, shipped detr-shapes, {os.cpu_count()} CPU cores; {args.calls} calls for 1 client, "
          f"16 clients x 10 calls of the same image, {args.sessions} sessions of a 2000x1500 image")
    for name, r in results.items():
        times, errors = r["many"]
        rss0, rss1, failed, trace = r["rss"]
        print(f"\n[{name}]\n  1 client     {pct(r['one'])}\n"
              f"  16 clients   {pct(times)}   failed {len(errors)} of {len(times) + len(errors)}"
              + (f"  e.g. {errors[0]}" if errors else "") +
              f"\n  sessions     RSS {rss0:.0f} MB -> {rss1:.0f} MB (+{rss1 - rss0:.0f} MB) after {args.sessions} "
              f"sessions ({failed} failed calls); every 50 sessions: {', '.join(f'{m:.0f}' for m in trace)} MB")
    if len(results) == 2:
        b, a = results["before"], results["after"]
        print(f"\nafter / before (p50): 1 client {np.median(a['one']) / np.median(b['one']):.2f}x, "
              f"16 clients {np.median(a['many'][0] or [np.nan]) / np.median(b['many'][0] or [np.nan]):.2f}x; "
              f"RSS growth {a['rss'][1] - a['rss'][0]:.0f} MB vs {b['rss'][1] - b['rss'][0]:.0f} MB")


if __name__ == "__main__":
    main()
