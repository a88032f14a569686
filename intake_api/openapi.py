"""The published schema, made to tell the truth about what this deployment accepts.

Agency codes and province names are configuration, not code: the models mark those fields
(`x-hotline-values`) and the schema each app publishes lists the configured values, so a
client (or schemathesis) learns from the schema exactly which values are accepted."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from intake_api.config import Settings

MARK = "x-hotline-values"


def install_openapi(app: FastAPI, settings: Settings) -> None:
    values = {
        "agencies": list(settings.agency_codes),
        "provinces": settings.province_names.accepted,
    }

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            _fill(schema, values)
            _errors_as_json(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _fill(node: Any, values: dict[str, list[str]]) -> None:
    if isinstance(node, dict):
        kind = node.pop(MARK, None)
        if kind is not None:
            node.pop("pattern", None)
            node["enum"] = values[kind]
        for child in node.values():
            _fill(child, values)
    elif isinstance(node, list):
        for child in node:
            _fill(child, values)


def _errors_as_json(schema: dict[str, Any]) -> None:
    """Error bodies are JSON whatever a route's own answer is (FastAPI files a plain-text
    route's error models under text/plain)."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content") or {}
                if status[0] in "45" and content and "application/json" not in content:
                    (only,) = content.values()
                    response["content"] = {"application/json": only}
