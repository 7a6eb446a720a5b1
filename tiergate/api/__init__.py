"""The HTTP API (FastAPI): ``create_app(settings)`` serves ``/v1/...`` (OpenAPI at ``/openapi.json``) and the
dashboard, behind API keys with roles (viewer reads; officer decides and ships; admin manages keys).

Names are imported on first use, so that the command line does not load the web stack to start."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tiergate.api.app import create_app
    from tiergate.api.keys import ROLES, ApiKey, create_key, init_keys, list_keys, revoke_key
    from tiergate.api.settings import DEFAULT_DB, Settings

_WHERE = {
    "create_app": "tiergate.api.app",
    "ROLES": "tiergate.api.keys",
    "ApiKey": "tiergate.api.keys",
    "create_key": "tiergate.api.keys",
    "init_keys": "tiergate.api.keys",
    "list_keys": "tiergate.api.keys",
    "revoke_key": "tiergate.api.keys",
    "DEFAULT_DB": "tiergate.api.settings",
    "Settings": "tiergate.api.settings",
}

__all__ = [
    "DEFAULT_DB",
    "ROLES",
    "ApiKey",
    "Settings",
    "create_app",
    "create_key",
    "init_keys",
    "list_keys",
    "revoke_key",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'tiergate.api' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
