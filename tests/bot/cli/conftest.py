"""The CLI tests train on the small NLU fixture data set the NLU tests use."""

from tests.bot.nlu.conftest import fixture_data_dir

__all__ = ["fixture_data_dir"]
