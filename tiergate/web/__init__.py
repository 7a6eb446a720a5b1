"""The dashboard: server-rendered pages (Jinja2, autoescaped) behind the same API keys (login by key, signed
session cookie, CSRF tokens on every form). One module and one template per page."""

from tiergate.web.app import error_page, install_dashboard

__all__ = ["error_page", "install_dashboard"]
