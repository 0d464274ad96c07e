"""schemathesis hooks for our non-JSON request bodies (loaded through SCHEMATHESIS_HOOKS)."""

import json

import schemathesis


@schemathesis.serializer("application/x-ndjson", "text/csv")
def _text_body(ctx: object, value: object) -> bytes:
    # Both bodies are documented as a string; anything else is sent as one JSON line.
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    return (json.dumps(value) + "\n").encode()
