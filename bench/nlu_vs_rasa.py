"""The embedded NLU and Rasa 3.6 side by side on the held-out set (tests/data/nlu_holdout.yml)
or, with --blind, on the blind sets (tests/data/nlu_blind.yml and triage_blind.yml).

    .venv/bin/python bench/nlu_vs_rasa.py [--holdout PATH | --blind] [--reuse-rasa-model]
        [--json OUT]

Both engines are trained on nlu_data/ as shipped (Rasa with nlu_data/config.yml unchanged),
then parse every message. Printed side by side, with the embedded engine's margin over Rasa:
intent macro-F1 (all messages and the diacritic-free ones), entity F1, relation F1, the share of
provinces found, parse latency p50/p99, training time and memory; with --blind also the triage
of the blind first messages (the same triage rules over each engine's parses): P1 recall and
precision, priority, category and agencies accuracy. Blind sets are reported in aggregate only:
no text of theirs is printed or written to --json.

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
from bot.nlu.assessment import TriageCase, load_triage_cases, provinces_found, triage_report
from bot.nlu.evaluation import entity_report, intent_report
from bot.nlu.rasa_client import RasaNLU
from bot.nlu.training_data import Example, load_yaml_file

REPO_ROOT = rasa_server.REPO_ROOT
HOLDOUT = REPO_ROOT / "tests" / "data" / "nlu_holdout.yml"
BLIND = REPO_ROOT / "tests" / "data" / "nlu_blind.yml"
TRIAGE_BLIND = REPO_ROOT / "tests" / "data" / "triage_blind.yml"


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


def score(
    name: str,
    examples: list[dict[str, Any]],
    parses: list[dict[str, Any]],
    cases: list[TriageCase] | None = None,
    case_parses: list[dict[str, Any]] | None = None,
) -> dict:
    """Aggregate figures of one engine: intents, entities, provinces found and, given triage
    cases and that engine's parses of them, the triage of those first messages."""
    gold = [e["intent"] for e in examples]
    pred = [p["intent"]["name"] for p in parses]
    plain = [i for i, e in enumerate(examples) if not has_diacritics(e["text"])]
    entities = entity_report([e["entities"] for e in examples], [p["entities"] for p in parses])
    spans = [
        Example(
            e["text"],
            e["intent"],
            tuple(_span(x) for x in e["entities"]),
        )
        for e in examples
    ]
    result: dict[str, Any] = {
        "engine": name,
        "intents": intent_report(gold, pred),
        "plain_intents": intent_report([gold[i] for i in plain], [pred[i] for i in plain]),
        "entities": entities,
        "provinces_found": provinces_found(spans, parses),
    }
    if cases is not None and case_parses is not None:
        from bot.triage import load_rules, triage

        rules = load_rules(rasa_server.NLU_DATA)
        results = [triage(p, [], rules=rules) for p in case_parses]
        result["triage"] = triage_report(cases, results, with_examples=False)
    return result


def _span(entity: dict[str, Any]) -> Any:
    from bot.nlu.training_data import EntitySpan

    return EntitySpan(
        entity["entity"], entity["value"], entity["start"], entity["end"], entity.get("text", "")
    )


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
    print("[bench] parsing the evaluation set with the embedded engine ...", flush=True)
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
            print("[bench] parsing the evaluation set with Rasa ...", flush=True)
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


def split_run(run: dict[str, Any], n: int) -> dict[str, Any]:
    """The run's parses of the NLU examples (the first n texts) apart from those of the triage
    cases; latency counts the NLU examples only, as on the held-out set."""
    return {
        **run,
        "parses": run["parses"][:n],
        "case_parses": run["parses"][n:],
        "latencies_ms": run["latencies_ms"][:n],
    }


def comparison_rows(
    scores: dict[str, dict[str, Any]], runs: dict[str, dict[str, Any]], plain_count: int
) -> list[tuple[str, ...]]:
    """The table's rows: a label, one cell per engine and, with both engines, the embedded
    engine's margin over Rasa (aggregate figures only)."""
    rows: list[tuple[str, ...]] = []
    both = "embedded" in scores and "rasa" in scores

    def row(label: str, value: Any, fmt: str = "{:.3f}", higher_is_better: bool = True) -> None:
        cells = [fmt.format(value(n)) for n in runs]
        if both:
            margin = value("embedded") - value("rasa")
            cells.append(f"{margin:+.3f}" if fmt == "{:.3f}" else f"{margin:+.1f}")
        rows.append((label, *cells))

    def relation(n: str, key: str) -> float:
        return float(scores[n]["entities"]["per_entity"].get("relation", {}).get(key, 0.0))

    row("intent macro-F1 (all)", lambda n: scores[n]["intents"]["macro_f1"])
    row("intent accuracy (all)", lambda n: scores[n]["intents"]["accuracy"])
    row(
        f"intent macro-F1 (no diacritics, n={plain_count})",
        lambda n: scores[n]["plain_intents"]["macro_f1"],
    )
    row("entity F1 (micro)", lambda n: scores[n]["entities"]["f1"])
    row("entity precision", lambda n: scores[n]["entities"]["precision"])
    row("entity recall", lambda n: scores[n]["entities"]["recall"])
    row("relation F1", lambda n: relation(n, "f1"))
    row("relation precision", lambda n: relation(n, "precision"))
    row("relation recall", lambda n: relation(n, "recall"))
    row("province found", lambda n: scores[n]["provinces_found"]["rate"])
    if all("triage" in scores[n] for n in runs):
        row("triage P1 recall", lambda n: scores[n]["triage"]["p1"]["recall"])
        row("triage P1 precision", lambda n: scores[n]["triage"]["p1"]["precision"])
        row("triage priority accuracy", lambda n: scores[n]["triage"]["priority_accuracy"])
        row("triage category accuracy", lambda n: scores[n]["triage"]["category_accuracy"])
        row("triage agencies accuracy", lambda n: scores[n]["triage"]["agencies_accuracy"])
    row("parse latency p50 (ms)", lambda n: percentile(runs[n]["latencies_ms"], 50), "{:.1f}")
    row("parse latency p99 (ms)", lambda n: percentile(runs[n]["latencies_ms"], 99), "{:.1f}")
    rows.append(
        (
            "training time (s)",
            *(f"{runs[n]['train_seconds']:.1f} {runs[n]['train_note']}".strip() for n in runs),
            *([""] if both else []),
        )
    )
    rows.append(
        (
            "training peak memory (MB)",
            *(f"{runs[n]['train_peak_mb']:.0f}" for n in runs),
            *([""] if both else []),
        )
    )
    rows.append(
        (
            "serving memory, RSS (MB)",
            *(f"{runs[n]['serve_rss_mb']:.0f}" for n in runs),
            *([""] if both else []),
        )
    )
    return rows


def print_table(
    examples: list[dict[str, Any]],
    runs: dict[str, dict[str, Any]],
    cases: list[TriageCase] | None = None,
    label: str = "held-out",
) -> dict:
    scores = {
        name: score(
            name,
            examples,
            run["parses"],
            cases,
            run.get("case_parses") if cases is not None else None,
        )
        for name, run in runs.items()
    }
    plain_count = sum(not has_diacritics(e["text"]) for e in examples)
    rows = comparison_rows(scores, runs, plain_count)
    header = ("", *runs, *(["margin"] if "rasa" in runs and "embedded" in runs else []))
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print()
    print(f"{label} messages: {len(examples)} ({plain_count} without diacritics)")
    if cases is not None:
        print(f"{label} triage cases: {len(cases)}")
    for line in [header, *rows]:
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
        "--blind",
        action="store_true",
        help="compare on the blind sets (tests/data/nlu_blind.yml, triage_blind.yml), "
        "aggregate figures only",
    )
    parser.add_argument(
        "--reuse-rasa-model",
        action="store_true",
        help="use a cached Rasa model for this data and config (training time is then not timed)",
    )
    parser.add_argument("--json", type=Path, help="also write the scores here")
    args = parser.parse_args(argv)

    source = BLIND if args.blind else args.holdout
    examples = load_holdout(source)
    if not examples:
        raise SystemExit(f"no examples in {source}")
    cases = load_triage_cases(TRIAGE_BLIND) if args.blind and TRIAGE_BLIND.is_file() else None
    texts = [e["text"] for e in examples]
    case_texts = [c.text for c in cases] if cases else []
    runs: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="hotline-bench-") as tmp:
        runs["embedded"] = split_run(run_embedded(texts + case_texts, Path(tmp)), len(texts))
    rasa = run_rasa(texts + case_texts, args.reuse_rasa_model)
    if rasa is not None:
        runs["rasa"] = split_run(rasa, len(texts))
    label = "blind" if args.blind else "held-out"
    scores = print_table(examples, runs, cases, label)
    if args.json:
        # Figures only: never the parses (they hold the texts, and a blind set's must not leak).
        summary = {
            name: {
                "scores": scores[name],
                **{k: v for k, v in run.items() if k not in ("parses", "case_parses")},
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
