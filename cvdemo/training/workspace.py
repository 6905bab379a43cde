"""Where live training runs keep their files: one folder per process, one sub-folder per session, deleted with it.

    workspace = TrainingWorkspace()                       # the root (/tmp/cvdemo-train-*) is made on first use
    with workspace.new_run_folder(session) as folder:     # an accepted run's files (an extracted upload)
        ...                                               # raises -> the folder is deleted, nothing is left
    folder = workspace.model_folder(session)              # where a saved model goes
    workspace.add_model(session, name, folder, kept)      # recorded; models not in ``kept`` are deleted
    workspace.end_session(session, after=job.done)        # the session ended: delete its files (once its run let go)

A run's folder replaces the session's previous one (deleted: a session has one run at a time). Session names
are hashed into folder names, so whatever a client sends as its session id stays inside the root. The root is
deleted when the process exits.
"""

from __future__ import annotations

import atexit
import hashlib
import itertools
import logging
import shutil
import tempfile
import threading
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["TrainingWorkspace"]

log = logging.getLogger(__name__)

RELEASE_WAIT_SECONDS = 900.0  # the longest a session's files wait for its stopped run to let go of them


@dataclass
class _SessionFiles:
    run: Path | None = None  # the current run's folder
    models: dict[str, Path] = field(default_factory=dict)  # saved model name -> its folder, oldest first
    last_saved: str | None = None  # the name saved last (what /push_to_hub pushes)


class TrainingWorkspace:
    """The files of every session's live training runs and saved models, under one root folder.

    Args:
        root: the folder to use (created if missing, left in place at exit); None: a fresh temporary folder
            named ``cvdemo-train-*``, made on first use and deleted when the process exits.
    """

    def __init__(self, root: str | Path | None = None) -> None:
        self._given_root = Path(root) if root is not None else None
        self._root: Path | None = None
        self._lock = threading.Lock()
        self._sessions: dict[str, _SessionFiles] = {}
        self._ids = itertools.count(1)

    @property
    def root(self) -> Path:
        """The root folder (made on first use)."""
        with self._lock:
            return self._root_locked()

    def _root_locked(self) -> Path:
        if self._root is None:
            if self._given_root is not None:
                self._given_root.mkdir(parents=True, exist_ok=True)
                self._root = self._given_root
            else:
                self._root = Path(tempfile.mkdtemp(prefix="cvdemo-train-"))
                atexit.register(shutil.rmtree, self._root, ignore_errors=True)
        return self._root

    def _session_folder(self, session: str) -> Path:
        """The session's folder (call under the lock)."""
        return self._root_locked() / hashlib.sha256(session.encode("utf-8", "replace")).hexdigest()[:20]

    def _new_folder(self, session: str, kind: str) -> Path:
        """A new, not yet existing path in the session's folder (call under the lock)."""
        return self._session_folder(session) / f"{kind}-{next(self._ids)}"

    @contextmanager
    def new_run_folder(self, session: str) -> Iterator[Path]:
        """A fresh, empty folder for a run's files. If the block raises, the folder is deleted (a refused run
        leaves nothing behind); else it becomes the session's run folder and the previous one is deleted."""
        with self._lock:
            folder = self._new_folder(session, "run")
        folder.mkdir(parents=True)
        try:
            yield folder
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        self.replace_run(session, folder)

    def replace_run(self, session: str, folder: Path | None) -> None:
        """``folder`` (None: no files) is now the session's run; its previous run folder is deleted."""
        with self._lock:
            files = self._sessions.setdefault(session, _SessionFiles())
            previous, files.run = files.run, folder
        if previous is not None and previous != folder:
            shutil.rmtree(previous, ignore_errors=True)

    def model_folder(self, session: str) -> Path:
        """A new path (not created) in the session's folder for a model about to be saved."""
        with self._lock:
            return self._new_folder(session, "model")

    def add_model(self, session: str, name: str, folder: Path, kept: Collection[str]) -> list[str]:
        """Record the model just saved as ``name`` in ``folder`` (the one `saved_folder` gives from now on) and
        keep only the session's models named in ``kept`` (what the model registry still offers it): the
        folders of the others are deleted. Returns the names dropped."""
        with self._lock:
            files = self._sessions.setdefault(session, _SessionFiles())
            files.models[name] = folder
            files.last_saved = name
            dropped = {n: f for n, f in files.models.items() if n not in kept}
            for n in dropped:
                del files.models[n]
            if files.last_saved not in files.models:
                files.last_saved = None
        for path in dropped.values():
            shutil.rmtree(path, ignore_errors=True)
        return list(dropped)

    def saved_folder(self, session: str) -> Path | None:
        """The folder of the model the session saved last, while it is kept; else None."""
        with self._lock:
            files = self._sessions.get(session)
            return files.models.get(files.last_saved) if files and files.last_saved else None

    def end_session(self, session: str, after: threading.Event | None = None) -> None:
        """Delete the session's folder. With ``after`` (a run's ``done`` event, not yet set), the deletion waits
        for it in the background (at most `RELEASE_WAIT_SECONDS`), so a stopping run never loses its files."""
        with self._lock:
            files = self._sessions.pop(session, None)
            folder = self._session_folder(session) if self._root is not None else None
        if files is None and (folder is None or not folder.exists()):
            return
        paths = [p for p in ([files.run] if files else []) + (list(files.models.values()) if files else []) if p]

        def delete() -> None:
            if after is not None:
                after.wait(RELEASE_WAIT_SECONDS)
            for path in paths:
                shutil.rmtree(path, ignore_errors=True)
            if folder is not None:
                try:
                    folder.rmdir()  # only when empty: a new run of the same session id may have started since
                except OSError:
                    pass
            log.info("training files of session %s deleted", session[:8])

        if after is None or after.is_set():
            delete()
        else:
            threading.Thread(target=delete, name="train-cleanup", daemon=True).start()

    def session_count(self) -> int:
        """Sessions with files or saved models recorded here."""
        with self._lock:
            return len(self._sessions)
