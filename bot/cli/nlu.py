"""`hotline nlu ...` commands. Heavy imports stay inside the commands so the CLI starts fast."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

nlu_app = typer.Typer(help="Train, run and evaluate the Vietnamese NLU.", no_args_is_help=True)


@nlu_app.command()
def train(
    data_dir: Path | None = typer.Option(None, help="Training data folder (default: settings)."),
    out: Path | None = typer.Option(None, help="Model file to write (default: settings)."),
) -> None:
    """Train the embedded NLU from nlu_data/ and save the model."""
    from bot.config import get_bot_settings
    from bot.nlu.artefact import save
    from bot.nlu.engine import train_engine

    settings = get_bot_settings()
    data_dir = data_dir or settings.nlu_data_dir
    out = out or settings.nlu_model_path
    engine = train_engine(data_dir)
    save(engine, out)
    m = engine.meta
    typer.echo(
        f"trained in {m['training_seconds']:.2f} s: {m['examples']} examples, "
        f"{m['intents']} intents, "
        f"{m['entity_annotations']} entity annotations from {m['files']} files; "
        f"{m['features']} features, out-of-scope threshold {m['threshold']:.2f}; saved to {out}"
    )


@nlu_app.command()
def parse() -> None:
    """Parse one message per line of stdin; print one JSON object per line."""
    from bot.nlu import load_nlu

    nlu = load_nlu()
    for line in sys.stdin:
        text = line.rstrip("\r\n")
        typer.echo(json.dumps(nlu.parse(text), ensure_ascii=False))


@nlu_app.command("eval")
def eval_(
    file: Path | None = typer.Argument(None, help="Rasa NLU YAML with labelled examples."),
    cross_validate: int | None = typer.Option(
        None, "--cross-validate", min=2, help="Stratified K-fold on the training data instead."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Intent and entity figures on FILE, or K-fold cross-validation on the training data."""
    from bot.config import get_bot_settings
    from bot.nlu import assessment
    from bot.nlu.training_data import load_yaml_file
    from bot.triage import load_rules

    settings = get_bot_settings()
    rules = load_rules(settings.nlu_data_dir)
    if cross_validate:
        report = assessment.cross_validate(settings.nlu_data_dir, cross_validate, rules.is_p1)
    else:
        if file is None:
            raise typer.BadParameter("give a FILE or --cross-validate K")
        if not file.is_file():
            raise typer.BadParameter(f"{file} does not exist")
        from bot.nlu.loading import load_embedded

        examples = load_yaml_file(file).examples
        report = assessment.evaluate(load_embedded(settings), examples, rules.is_p1)
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        typer.echo(assessment.format_report(report))
