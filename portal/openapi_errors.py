"""The API's error answers, documented once for every operation of the OpenAPI schema.

Every JSON error of the API has the same body, ``{"code", "message"}`` (portal/errors.py
makes it; a validation error adds ``errors``), but litestar documents only the 400 of its own
validation error, with litestar's body. One post-processing step adds the shared body to
every operation under ``/api/`` for the statuses it can answer: 400, 401, 403, 404, 422 and
503 everywhere (guards, scoped lookups, domain rules, outages), 409, 413 and 415 where a
request has a body, 408 on the streaming uploads, 429 on the throttled token sign-in and
on signing (whose password check counts as a sign-in attempt).
"""

from __future__ import annotations

from typing import Any, Final

from litestar.openapi.plugins import JsonRenderPlugin

from portal.requests import AnyRequest

ERROR_SCHEMA_NAME: Final = "Error"
ERROR_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["code", "message"],
    "properties": {
        "code": {"type": "string", "description": "A stable, machine-readable reason."},
        "message": {"type": "string", "description": "A sentence for people."},
        "errors": {
            "type": "array",
            "description": "Validation errors only: the fields that were refused.",
            "items": {
                "type": "object",
                "properties": {"key": {"type": ["string", "null"]},
                               "message": {"type": ["string", "null"]}},
            },
        },
        "attachment_ids": {
            "type": "array",
            "description": "``images_not_reviewed`` only: the images neither opened by the "
                           "signer nor given a reason.",
            "items": {"type": "string"},
        },
    },
}
DESCRIPTIONS: Final = {
    400: "The request was not understood (malformed JSON, wrong types, bad parameters).",
    401: "Not signed in, or the bearer token is not valid.",
    403: "Signed in, but this role may not do this (or the bearer token may only read).",
    404: "Nothing with this id within the caller's reach.",
    408: "The request body stalled.",
    409: "The request conflicts with the current state.",
    413: "The request body is too large.",
    415: "The content type or the file's real type is not accepted.",
    422: "The request was understood but cannot be used.",
    429: "Too many attempts; retry after the time in Retry-After.",
    503: "The database or the blob store is away; retry after the time in Retry-After.",
}
ALWAYS: Final = (400, 401, 403, 404, 422, 503)
WITH_BODY: Final = (409, 413, 415)
UNSAFE_METHODS: Final = frozenset({"post", "put", "patch", "delete"})
STREAMING_UPLOADS: Final = ("/attachments", "/documents", "/roster")
THROTTLED: Final = frozenset({
    ("post", "/api/v1/tokens"),
    ("post", "/api/v1/cases/{case_id}/evaluation/sign"),
    ("post", "/api/v1/cases/{case_id}/evaluation/addenda"),
})


def statuses_for(method: str, path: str) -> list[int]:
    """The error statuses one operation can answer."""
    statuses = list(ALWAYS)
    if method in UNSAFE_METHODS:
        statuses.extend(WITH_BODY)
        if path.endswith(STREAMING_UPLOADS):
            statuses.append(408)
    if (method, path) in THROTTLED:
        statuses.append(429)
    return sorted(statuses)


def add_error_responses(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the shared error body to every API operation (in place; running it twice changes
    nothing). Returns the schema."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components[ERROR_SCHEMA_NAME] = ERROR_SCHEMA
    reference = {"$ref": f"#/components/schemas/{ERROR_SCHEMA_NAME}"}
    for path, item in schema.get("paths", {}).items():
        if not path.startswith("/api/"):
            continue
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for status in statuses_for(method, path):
                responses[str(status)] = {
                    "description": DESCRIPTIONS[status],
                    "content": {"application/json": {"schema": reference}},
                }
    return schema


class JsonSchemaWithErrors(JsonRenderPlugin):
    """Serves /schema/openapi.json with the error answers added (see the module docstring)."""

    def render(self, request: AnyRequest, openapi_schema: dict[str, Any]) -> bytes:
        return super().render(request, add_error_responses(openapi_schema))
