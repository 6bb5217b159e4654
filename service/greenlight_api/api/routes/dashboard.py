"""The dashboard at `/`: server-rendered HTML, a small script, no build step.

The page is rendered from the cache with Jinja2 templates. A browser's page load carries no
bearer token, so with `GREENLIGHT_API_AUTH=tokenreview` the page comes without Releases and
`static/dashboard.js` asks for the token (kept in sessionStorage, sent as the Bearer header),
then loads the same rows as HTML fragments from `/ui/...`. The script follows
`/api/v1/events` and re-fetches the fragment of each Release that changed: rendering stays in
one place, the templates.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from greenlight_api import auth, records
from greenlight_api.api import deps
from greenlight_api.core.config import AuthMode

router = APIRouter(include_in_schema=False)

templates = Jinja2Templates(directory=Path(__file__).parent.parent.parent / "templates")

_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
_HEADERS = {"Content-Security-Policy": _CSP, "X-Content-Type-Options": "nosniff"}


def _views(found: list[records.ReleaseRecord]) -> list[dict[str, object]]:
    return [
        {"record": record, "detail": record.detail(), "status_error": record.status_error}
        for record in found
    ]


@router.get("/", response_class=HTMLResponse)
async def page(
    request: Request,
    settings: deps.SettingsDep,
    authenticator: deps.AuthenticatorDep,
    release_cache: deps.UnsyncedCacheDep,
) -> HTMLResponse:
    views: list[dict[str, object]] | None = None
    header = request.headers.get("authorization")
    if release_cache.synced and (settings.auth is AuthMode.NONE or header):
        try:
            caller = await authenticator.authenticate(header)
            readable = await authenticator.readable(caller, release_cache.namespaces())
            views = _views(release_cache.list(readable))
        except auth.Unauthenticated:
            views = None
    return templates.TemplateResponse(
        request,
        "dashboard.html",
        {
            "auth": settings.auth.value,
            "views": views,
            "synced": release_cache.synced,
            "color": settings.color,
            "revision": settings.revision,
        },
        headers=_HEADERS,
    )


@router.get("/ui/releases", response_class=HTMLResponse)
async def rows(request: Request, found: deps.ListedDep) -> HTMLResponse:
    return templates.TemplateResponse(
        request, "_releases.html", {"views": _views(found)}, headers=_HEADERS
    )


@router.get("/ui/namespaces/{ns}/releases/{name}", response_class=HTMLResponse)
async def row(request: Request, _: deps.ReaderDep, record: deps.RecordDep) -> HTMLResponse:
    return templates.TemplateResponse(
        request, "_releases.html", {"views": _views([record])}, headers=_HEADERS
    )
