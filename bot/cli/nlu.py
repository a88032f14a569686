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
    files: list[Path] | None = typer.Argument(
        None,
        help="Rasa NLU YAML with labelled examples, or a triage file (`cases:`); several allowed.",
    ),
    cross_validate: int | None = typer.Option(
        None, "--cross-validate", min=2, help="Stratified K-fold on the training data instead."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    show_examples: bool | None = typer.Option(
        None,
        "--show-examples/--aggregate-only",
        help="List the misread examples (default), or print aggregate figures only. Files "
        "named *blind* are always aggregate only.",
    ),
) -> None:
    """Intent, entity and triage figures on FILES, or K-fold cross-validation on the training
    data. Blind evaluation sets (file names containing "blind") never have a text printed."""
    from bot.config import get_bot_settings
    from bot.nlu import assessment
    from bot.nlu.training_data import load_yaml_file
    from bot.triage import load_rules, triage

    settings = get_bot_settings()
    rules = load_rules(settings.nlu_data_dir)
    if cross_validate:
        report = assessment.cross_validate(settings.nlu_data_dir, cross_validate, rules.is_p1)
        typer.echo(
            json.dumps(report, ensure_ascii=False, indent=2)
            if as_json
            else assessment.format_report(report)
        )
        return
    if not files:
        raise typer.BadParameter("give a FILE or --cross-validate K")
    allowed: dict[Path, bool] = {}
    for file in files:
        if not file.is_file():
            raise typer.BadParameter(f"{file} does not exist")
        try:
            allowed[file] = assessment.examples_allowed(file, show_examples)
        except assessment.BlindFileError as exc:
            raise typer.BadParameter(str(exc)) from exc
    from bot.nlu.loading import load_embedded

    engine = load_embedded(settings)
    reports: dict[str, dict] = {}
    for file in files:
        with_examples = allowed[file]
        if assessment.is_triage_file(file):
            report = assessment.evaluate_triage(
                engine,
                assessment.load_triage_cases(file),
                lambda parse: triage(parse, [], rules=rules),
                with_examples=with_examples,
            )
            text = assessment.format_triage_report(report)
        else:
            examples = load_yaml_file(file).examples
            report = assessment.evaluate(engine, examples, rules.is_p1, with_examples=with_examples)
            text = assessment.format_report(report)
        reports[str(file)] = report
        if not as_json:
            if len(files) > 1:
                typer.echo(f"== {file}")
            typer.echo(text)
    if as_json:
        only = reports[str(files[0])] if len(files) == 1 else reports
        typer.echo(json.dumps(only, ensure_ascii=False, indent=2))
