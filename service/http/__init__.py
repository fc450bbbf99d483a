"""The HTTP service (``prescreen serve``): FastAPI on uvicorn over the application layer.

:func:`create_app` builds the ASGI application for a data folder; :mod:`.api` holds the endpoints,
:mod:`.pages` the server-rendered pages, :mod:`.runtime` the workers they run on.
"""

from .api import API_PREFIX, create_app

__all__ = ["API_PREFIX", "create_app"]
