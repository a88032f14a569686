"""What every NLU backend offers: `parse(text)` returning the parse shape of docs/nlu.md."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class NLUBackend(Protocol):
    def parse(self, text: str) -> dict[str, Any]: ...
