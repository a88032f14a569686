"""The ticket rules, one module each, used by the API, the console and the bot alike:

- `lifecycle`: which status moves are legal;
- `priority`: the order of priorities, the raise-only rule for reporter messages, and the
  service level (first response due) of each priority;
- `visibility`: which tickets a caller may see;
- `agencies`: the one agency registry every account, ticket and routing table is checked
  against;
- `senders`: whether a later message came from the reporter or from another sender.

Triage itself (priority, category and agencies from what was said) reads text and lives with
the NLU on the bot's side (`bot.triage`); it routes with codes this registry checks.
"""
