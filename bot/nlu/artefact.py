"""Saving and loading the trained embedded engine, and telling whether a saved one is stale."""

from __future__ import annotations

import gc
import logging
import os
import pickle
import tempfile
from pathlib import Path

from bot.nlu.engine import ENGINE_VERSION, EmbeddedNLU, train_engine
from bot.nlu.training_data import data_fingerprint

log = logging.getLogger(__name__)


def save(engine: EmbeddedNLU, path: Path) -> None:
    """Write atomically, so a crash mid-write never leaves a half model for the next load."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(engine, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(path: Path) -> EmbeddedNLU | None:
    """The saved engine, or None if there is none or it cannot be read (an old format)."""
    try:
        with path.open("rb") as fh:
            engine = pickle.load(fh)
    except FileNotFoundError:
        return None
    except Exception as exc:  # an unreadable model is rebuilt, never fatal
        log.warning(
            "NLU model %s is unreadable (%s); it will be retrained", path, type(exc).__name__
        )
        return None
    if not isinstance(engine, EmbeddedNLU):
        return None
    _freeze_heap()
    return engine


def _freeze_heap() -> None:
    # The model is tens of thousands of long-lived objects (vocabulary, gazetteer). Moving them
    # out of the garbage collector's view keeps full collections from scanning them in the
    # middle of a parse, which otherwise shows up as multi-millisecond latency spikes.
    gc.collect()
    gc.freeze()


def staleness(engine: EmbeddedNLU, data_dir: Path) -> str | None:
    """Why the engine no longer matches the code and data, or None when it is current."""
    if engine.meta.get("engine_version") != ENGINE_VERSION:
        return f"engine version {engine.meta.get('engine_version')} != {ENGINE_VERSION}"
    if data_dir.is_dir() and engine.meta.get("data_fingerprint") != data_fingerprint(data_dir):
        return f"training data under {data_dir} changed"
    return None


def load_or_train(model_path: Path, data_dir: Path) -> EmbeddedNLU:
    """The saved engine if it is current; otherwise retrain (seconds), save and return it."""
    engine = load(model_path)
    reason = "no saved model" if engine is None else staleness(engine, data_dir)
    if engine is not None and reason is None:
        return engine
    log.warning("NLU model %s: %s; retraining from %s", model_path, reason, data_dir)
    fresh = train_engine(data_dir)
    try:
        save(fresh, model_path)
    except OSError as exc:  # a read-only deployment still parses with the in-memory model
        log.warning("could not save NLU model to %s: %s", model_path, exc)
    _freeze_heap()
    log.warning(
        "NLU model retrained in %.1f s on %d examples",
        fresh.meta["training_seconds"],
        fresh.meta["examples"],
    )
    return fresh
