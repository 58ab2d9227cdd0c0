"""The customer website: server-rendered pages (Starlette routes + Jinja2
templates, gettext catalogs in English and Vietnamese) on the same use cases
as ``/api/v2``. Forms work without JavaScript; ``static/site.js`` only adds
the live charge and shows the fields of the chosen service type.

Modules: ``core`` (request context, sessions, CSRF, rendering, security
headers), ``i18n`` (catalogs), ``account`` (sign-up, sign-in, account page,
language), ``pages`` (dashboard, orders, refills, funds, API docs).
"""

from .core import site_routes

__all__ = ["site_routes"]
