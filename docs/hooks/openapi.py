"""MkDocs hook: the HTTP API reference page, generated from the server's own OpenAPI document at build time,
so that the page lists exactly the operations, parameters, bodies and answers the server declares."""

from __future__ import annotations

import json
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

PAGE = "reference/http.md"


def _schema_text(schema: dict[str, Any] | None) -> str:
    if not schema:
        return ""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[`{name}`](#schema-{name.lower()})"
    if "oneOf" in schema or "anyOf" in schema:
        return " or ".join(_schema_text(s) for s in schema.get("oneOf") or schema.get("anyOf") or [])
    if schema.get("type") == "array":
        return f"array of {_schema_text(schema.get('items'))}"
    kind = schema.get("type", "object")
    return f"`{kind if isinstance(kind, str) else ' | '.join(kind)}`"


def render(document: dict[str, Any]) -> str:
    lines = [
        "# HTTP API operations",
        "",
        f"Generated from the OpenAPI document of Tiergate {document['info']['version']} (also served at "
        "`/openapi.json`, with Swagger UI at `/docs` and ReDoc at `/redoc`). Every operation answers errors in "
        "one shape: `{\"error\": {\"status\", \"code\", \"message\", \"where\", \"hint\"}}`.",
        "",
    ]
    for path, operations in sorted(document["paths"].items()):
        for method, op in operations.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            lines += [f"## `{method.upper()} {path}`", ""]
            if op.get("summary"):
                lines += [f"**{op['summary']}**", ""]
            if op.get("description"):
                lines += [op["description"], ""]
            params = op.get("parameters") or []
            if params:
                lines += ["| parameter | in | required | type | description |", "|---|---|---|---|---|"]
                for p in params:
                    desc = (p.get("description") or "").replace("\n", " ").replace("|", "\\|")
                    lines.append(
                        f"| `{p['name']}` | {p['in']} | {'yes' if p.get('required') else 'no'} | "
                        f"{_schema_text(p.get('schema'))} | {desc} |"
                    )
                lines.append("")
            body = (op.get("requestBody") or {}).get("content") or {}
            for media, content in body.items():
                lines.append(f"Request body (`{media}`): {_schema_text(content.get('schema'))}")
                example = content.get("example") or next(iter((content.get("examples") or {}).values()), {}).get(
                    "value"
                )
                if example is not None:
                    lines += ["", "```json", json.dumps(example, indent=2, ensure_ascii=False), "```"]
                lines.append("")
            answers = op.get("responses") or {}
            if answers:
                lines += ["| status | meaning | body |", "|---|---|---|"]
                for status, answer in sorted(answers.items()):
                    schema = ((answer.get("content") or {}).get("application/json") or {}).get("schema")
                    meaning = (answer.get("description") or "").replace("\n", " ").replace("|", "\\|")
                    lines.append(f"| {status} | {meaning} | {_schema_text(schema)} |")
                lines.append("")
    schemas = (document.get("components") or {}).get("schemas") or {}
    if schemas:
        lines += ["## Schemas", ""]
        for name, schema in sorted(schemas.items()):
            lines += [f'### {name} {{ #schema-{name.lower()} }}', ""]
            if schema.get("description"):
                lines += [str(schema["description"]).replace("\n", " "), ""]
            props = schema.get("properties") or {}
            if props:
                required = set(schema.get("required") or [])
                lines += ["| field | type | required | description |", "|---|---|---|---|"]
                for field, prop in props.items():
                    desc = str(prop.get("description") or "").replace("\n", " ").replace("|", "\\|")
                    lines.append(
                        f"| `{field}` | {_schema_text(prop)} | {'yes' if field in required else 'no'} | {desc} |"
                    )
                lines.append("")
    return "\n".join(lines) + "\n"


def on_files(files: Files, config: MkDocsConfig) -> Files:
    from tiergate.api import Settings, create_app

    app = create_app(Settings(db="sqlite://", screening=False), dashboard=False)
    files.append(File.generated(config, PAGE, content=render(app.openapi())))
    return files
