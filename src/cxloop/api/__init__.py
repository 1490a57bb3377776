"""The REST API and the dashboard: ``cxloop serve`` (uvicorn) or :func:`create_app`.

Every endpoint needs an API key (``cxloop keys create``); the key's role decides what
it may do and the empowerment policy judges its grants. OpenAPI at ``/openapi.json``,
the API reference at ``/docs``, the dashboard at ``/``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from cxloop.api import errors
from cxloop.api.runtime import Runtime
from cxloop.library.edges import FIRST_PAGE
from cxloop.results.ledger import HealthOut
from cxloop.settings import Settings
from cxloop.version import __version__

API_DESCRIPTION = """
cxloop's REST API: ingest events, read customer timelines and the promise ledger, work
cases and remedies within the empowerment policy, voice of customer and employee,
proactive outreach, and the daily brief.

**Auth**: `Authorization: Bearer <key>` (or `X-API-Key: <key>`); keys are created with
`cxloop keys create --name N --role viewer|agent|lead|admin`.

**Errors** always look like `{"error": {"code": "...", "message": "...", "details": []}}`
with stable codes: unauthorized, forbidden, policy_denied, not_found, conflict,
invalid_request, bad_input, busy, internal.

**Lists** are paged: `?limit=` (1-1000, default 100) and `?offset=`; the answer has
`items`, `total`, `limit`, `offset` and `next_offset` (null on the last page).
"""


def create_app(
    settings: Settings | None = None,
    *,
    home: str | Path | None = None,
    cache_ttl: float = 60.0,
    warm: bool = False,
) -> FastAPI:
    """The application over one store (``settings``, or the environment with ``home``)."""
    from cxloop.api import (
        apidocs,
        funnel_pages,
        pages,
        pages_journeys,  # noqa: F401 - adds /journeys to pages.router
        pages_outcomes,
        routes_cases,
        routes_data,
        routes_funnels,
        routes_insight,
        routes_journeys,  # journeys (C6)
        routes_outcomes,
        routes_remedies,
    )
    from cxloop.api.guard import Guard
    from cxloop.api.keygate import KeyGate

    chosen = settings or Settings.from_env(None, home=home)
    runtime = Runtime(chosen, ttl=cache_ttl)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if warm and chosen.refresh:  # the first page, warmed before anyone asks (refresh.md)
            runtime.start_warmer(FIRST_PAGE, chosen.refresh_poll)
        yield
        runtime.close()

    app = FastAPI(
        title="cxloop",
        version=__version__,
        description=API_DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # Swagger UI and ReDoc load from a CDN: /docs is served by apidocs
        redoc_url=None,
    )
    app.state.runtime = runtime
    errors.install(app)
    app.add_middleware(KeyGate, runtime=runtime)  # inside the Guard: the key before the body
    app.add_middleware(
        Guard,
        max_body_bytes=int(chosen.max_body_mb * 1024 * 1024),
        personal_words=frozenset(chosen.personal_words),
    )
    app.include_router(routes_data.router)
    app.include_router(routes_cases.router)
    app.include_router(routes_insight.router)
    app.include_router(routes_journeys.router)
    app.include_router(routes_remedies.router)
    app.include_router(routes_remedies.pages)
    app.include_router(pages.router)
    app.include_router(apidocs.router)
    app.include_router(routes_funnels.router)
    app.include_router(funnel_pages.router)
    from cxloop.api import (  # outcomes (issue 19)
        pages_effort,
        pages_health,
        routes_effort,
        routes_health,
    )

    app.include_router(routes_health.router)
    app.include_router(pages_health.router)

    app.include_router(routes_effort.router)
    app.include_router(pages_effort.router)
    app.include_router(routes_outcomes.router)
    app.include_router(pages_outcomes.router)

    @app.get("/health", response_model=HealthOut, tags=["access"])
    def health() -> dict[str, object]:
        """Liveness, without a key: the version, the event log's version and the store's
        clock (``mode``: data, wall or fixed; ``now``: what every report is as of)."""
        with runtime.checkout() as ws:
            version, clock = ws.log.version, ws.clock.as_dict()
        return {"status": "ok", "version": __version__, "log_version": version, "clock": clock}

    return app


def app_from_env() -> FastAPI:
    """The app over the store the environment names (``CXLOOP_HOME``): uvicorn's factory."""
    return create_app(warm=True)
