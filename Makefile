# The README's two commands: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test test-faults lint format test-rasa bench voice-audio clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(DEV_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

run: $(STAMP)
	$(BIN)/hotline serve

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

format: $(DEV_STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Real processes and real faults (README, "Load and fault tests"): SIGKILL, a PostgreSQL
# restart, failing platforms; skipped by `make test`, run after it by .ci/run.
test-faults: $(DEV_STAMP)
	HOTLINE_FAULT_TESTS=1 $(BIN)/python -m pytest tests/faults $(PYTEST_ARGS)

test-rasa: $(DEV_STAMP)
	$(BIN)/python bench/rasa_server.py test

bench: $(DEV_STAMP)
	$(BIN)/python bench/nlu_bench.py

# The voice hotline's prompts, recorded from nlu_data/voice.yml with espeak-ng's Vietnamese
# voice (apt-get install espeak-ng); only changed clips are written. Commit the result.
voice-audio: $(STAMP)
	$(BIN)/python -m bot.channels.voice.audio

clean:
	rm -rf $(VENV) var/*.db .pytest_cache
