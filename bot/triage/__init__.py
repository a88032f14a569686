"""Triage: priority, category and agencies of a conversation from its NLU parses
(docs/nlu.md, Triage). `from bot.triage import triage` is the documented interface."""

from bot.triage.rules import TriageRules, load_rules, routed, triage

__all__ = ["TriageRules", "load_rules", "routed", "triage"]
