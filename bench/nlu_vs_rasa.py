"""The embedded NLU and Rasa 3.6 side by side on the held-out set (tests/data/nlu_holdout.yml).

    .venv/bin/python bench/nlu_vs_rasa.py [--holdout PATH] [--reuse-rasa-model] [--json OUT]

Both engines are trained on nlu_data/ as shipped (Rasa with nlu_data/config.yml unchanged),
then parse every held-out message. Printed side by side: intent macro-F1 (all messages and the
diacritic-free ones), entity F1, parse latency p50/p99, training time and memory.

- Latency is what the bot waits for: the embedded engine's `parse` in-process; for Rasa, the
  HTTP round trip through bot/nlu/rasa_client.py to a local `rasa run` (after one warm-up).
- Training time is the wall time of the training process (imports included); memory is the
  peak resident size (VmHWM) of the training process and the resident size (VmRSS) of the
  process serving the model after the run.
- Entity F1 uses bot/nlu/evaluation.py's rule: same entity, same value (case-insensitive),
  overlapping span.

Rasa's part needs a Python 3.10 (see bench/rasa_server.py); without one only the embedded
engine is reported. This is a benchmark, not a test: it takes minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
import unicodedata
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import rasa_server
from bot.nlu.evaluation import entity_report, intent_report
from bot.nlu.rasa_client import RasaNLU
from bot.nlu.training_data import load_yaml_file

REPO_ROOT = rasa_server.REPO_ROOT
HOLDOUT = REPO_ROOT / "tests" / "data" / "nlu_holdout.yml"


def has_diacritics(text: str) -> bool:
    decomposed = unicodedata.normalize("NFD", text)
    return any(unicodedata.combining(c) for c in decomposed) or "đ" in text.casefold()


def load_holdout(path: Path) -> list[dict[str, Any]]:
    data = load_yaml_file(path)
    return [
        {
            "text": example.text,
            "intent": example.intent,
            "entities": [
                {"entity": e.entity, "value": e.value, "start": e.start, "end": e.end}
                for e in example.entities
            ],
        }
        for example in data.examples
    ]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def rss_mb(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def score(name: str, examples: list[dict[str, Any]], parses: list[dict[str, Any]]) -> dict:
    gold = [e["intent"] for e in examples]
    pred = [p["intent"]["name"] for p in parses]
    plain = [i for i, e in enumerate(examples) if not has_diacritics(e["text"])]
    entities = entity_report([e["entities"] for e in examples], [p["entities"] for p in parses])
    return {
        "engine": name,
        "intents": intent_report(gold, pred),
        "plain_intents": intent_report([gold[i] for i in plain], [pred[i] for i in plain]),
        "entities": entities,
    }


# --- Embedded engine: trained and served in child processes, so memory is its own ---------

_TRAIN_EMBEDDED = """
import pickle, sys
from pathlib import Path
from bot.nlu.engine import train_engine
engine = train_engine(Path(sys.argv[1]))
Path(sys.argv[2]).write_bytes(pickle.dumps(engine, protocol=pickle.HIGHEST_PROTOCOL))
"""


def embedded_worker(model_path: str, texts_path: str, out_path: str) -> None:
    """Child process: load the trained engine, parse every text, report latency and memory."""
    engine = pickle.loads(Path(model_path).read_bytes())
    texts = json.loads(Path(texts_path).read_text(encoding="utf-8"))
    engine.parse("xin chào")  # warm-up, as for Rasa
    parses, latencies = [], []
    for text in texts:
        started = time.perf_counter()
        parses.append(engine.parse(text))
        latencies.append((time.perf_counter() - started) * 1000)
    result = {"parses": parses, "latencies_ms": latencies, "rss_mb": rss_mb(os.getpid())}
    Path(out_path).write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")


def run_embedded(texts: list[str], work: Path) -> dict[str, Any]:
    model = work / "embedded.pkl"
    print("[bench] training the embedded engine ...", flush=True)
    stats = rasa_server._run_logged(
        [sys.executable, "-c", _TRAIN_EMBEDDED, str(rasa_server.NLU_DATA), str(model)],
        work / "embedded-train.log",
        "training the embedded engine",
        cwd=REPO_ROOT,
    )
    texts_path, out_path = work / "texts.json", work / "embedded-out.json"
    texts_path.write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
    print("[bench] parsing the held-out set with the embedded engine ...", flush=True)
    subprocess.run(
        [sys.executable, __file__, "_embedded-worker", str(model), str(texts_path), str(out_path)],
        check=True,
        cwd=REPO_ROOT,
    )
    result = json.loads(out_path.read_text(encoding="utf-8"))
    return {
        "parses": result["parses"],
        "latencies_ms": result["latencies_ms"],
        "train_seconds": stats.seconds,
        "train_peak_mb": stats.peak_rss_mb,
        "serve_rss_mb": result["rss_mb"],
        "train_note": "",
    }


def run_rasa(texts: list[str], reuse_model: bool) -> dict[str, Any] | None:
    python310 = rasa_server.find_python310()
    if python310 is None:
        print("[bench] no Python 3.10: Rasa is not benchmarked (see bench/rasa_server.py)")
        return None
    rasa = rasa_server.ensure_rasa_env(python310)
    print("[bench] training Rasa with nlu_data/config.yml as shipped ...", flush=True)
    model = rasa_server.train_model(rasa, epochs=None, force=not reuse_model)
    server = rasa_server.RasaServer(rasa, model.path)
    try:
        server.start()
        server.wait_ready()
        with RasaNLU(url=server.url, timeout=30.0, retries=0) as client:
            client.parse("xin chào")  # the first parse builds TensorFlow's graph
            parses, latencies = [], []
            print("[bench] parsing the held-out set with Rasa ...", flush=True)
            for text in texts:
                started = time.perf_counter()
                parses.append(client.parse(text))
                latencies.append((time.perf_counter() - started) * 1000)
        assert server.process is not None
        serve_rss = rss_mb(server.process.pid)
    finally:
        server.stop()
    return {
        "parses": parses,
        "latencies_ms": latencies,
        "train_seconds": model.seconds,
        "train_peak_mb": model.peak_rss_mb,
        "serve_rss_mb": serve_rss,
        "train_note": "(cached model, not timed)" if model.cached else "",
    }


# --- Report ------------------------------------------------------------------------------


def print_table(examples: list[dict[str, Any]], runs: dict[str, dict[str, Any]]) -> dict:
    scores = {name: score(name, examples, run["parses"]) for name, run in runs.items()}
    plain_count = sum(not has_diacritics(e["text"]) for e in examples)
    rows: list[tuple[str, ...]] = []

    def row(label: str, fmt: Any) -> None:
        rows.append((label, *(fmt(name) for name in runs)))

    row("intent macro-F1 (all)", lambda n: f"{scores[n]['intents']['macro_f1']:.3f}")
    row("intent accuracy (all)", lambda n: f"{scores[n]['intents']['accuracy']:.3f}")
    row(
        f"intent macro-F1 (no diacritics, n={plain_count})",
        lambda n: f"{scores[n]['plain_intents']['macro_f1']:.3f}",
    )
    row("entity F1 (micro)", lambda n: f"{scores[n]['entities']['f1']:.3f}")
    row(
        "entity precision / recall",
        lambda n: "{precision:.3f} / {recall:.3f}".format(**scores[n]["entities"]),
    )
    row("parse latency p50 (ms)", lambda n: f"{percentile(runs[n]['latencies_ms'], 50):.1f}")
    row("parse latency p99 (ms)", lambda n: f"{percentile(runs[n]['latencies_ms'], 99):.1f}")
    row(
        "training time (s)",
        lambda n: f"{runs[n]['train_seconds']:.1f} {runs[n]['train_note']}".strip(),
    )
    row("training peak memory (MB)", lambda n: f"{runs[n]['train_peak_mb']:.0f}")
    row("serving memory, RSS (MB)", lambda n: f"{runs[n]['serve_rss_mb']:.0f}")

    widths = [max(len(r[i]) for r in [("", *runs), *rows]) for i in range(len(runs) + 1)]
    print()
    print(f"held-out messages: {len(examples)} ({plain_count} without diacritics)")
    for line in [("", *runs), *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))
    print()
    for name in runs:
        per_entity = scores[name]["entities"]["per_entity"]
        cells = ", ".join(f"{k} {v['f1']:.2f}" for k, v in per_entity.items())
        print(f"{name} entity F1 by entity: {cells}")
        confusions = scores[name]["intents"]["confusions"][:5]
        pairs = ", ".join(f"{c['gold']}->{c['predicted']} x{c['count']}" for c in confusions)
        print(f"{name} top confusions: {pairs}")
    return scores


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--holdout", type=Path, default=HOLDOUT)
    parser.add_argument(
        "--reuse-rasa-model",
        action="store_true",
        help="use a cached Rasa model for this data and config (training time is then not timed)",
    )
    parser.add_argument("--json", type=Path, help="also write the scores here")
    args = parser.parse_args(argv)

    examples = load_holdout(args.holdout)
    if not examples:
        raise SystemExit(f"no examples in {args.holdout}")
    texts = [e["text"] for e in examples]
    runs: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="hotline-bench-") as tmp:
        runs["embedded"] = run_embedded(texts, Path(tmp))
    rasa = run_rasa(texts, args.reuse_rasa_model)
    if rasa is not None:
        runs["rasa"] = rasa
    scores = print_table(examples, runs)
    if args.json:
        summary = {
            name: {
                "scores": scores[name],
                **{k: v for k, v in run.items() if k != "parses"},
            }
            for name, run in runs.items()
        }
        args.json.write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "_embedded-worker":
        embedded_worker(*sys.argv[2:])
        sys.exit(0)
    sys.exit(main())
