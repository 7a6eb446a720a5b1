"""The API's documentation pages: ``/docs`` (Swagger UI, to try the operations with a key) and ``/redoc``
(ReDoc, to read them), both on ``/openapi.json``, served from assets vendored in ``docs_assets/`` (see its
PROVENANCE.md): no CDN, and no inline script (the pages keep the CSP ``script-src 'self'``)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

ASSETS = Path(__file__).resolve().parent / "docs_assets"
REDOC_PATH = "/redoc"
"""ReDoc styles its page with ``<style>`` elements (styled-components): its page's CSP allows inline styles."""

_SWAGGER = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Tiergate API · Swagger UI</title>
<link rel="icon" href="/docs/assets/favicon-32x32.png">
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/swagger-init.js"></script>
</body>
</html>
"""

_REDOC = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Tiergate API · ReDoc</title>
<link rel="icon" href="/docs/assets/favicon-32x32.png">
</head>
<body>
<div id="redoc"></div>
<script src="/docs/assets/redoc.standalone.js"></script>
<script src="/docs/assets/redoc-init.js"></script>
</body>
</html>
"""


def install_docs(app: FastAPI) -> None:
    """Mount ``/docs``, ``/redoc`` and their assets on ``app`` (outside the OpenAPI document)."""

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return HTMLResponse(_SWAGGER)

    @app.get(REDOC_PATH, include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return HTMLResponse(_REDOC)

    app.mount("/docs/assets", StaticFiles(directory=ASSETS), name="docs-assets")
