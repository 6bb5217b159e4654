"""Greenlight's API service: the Release API, its event streams and the dashboard.

Served by `uvicorn greenlight_api.main:app`. The layers, and who may import whom:

- `core`: settings, JSON logging with request ids, metrics, the drain-on-SIGTERM lifecycle.
- `kube`: the only code that talks to the Kubernetes API (the official, blocking client, always
  off the event loop).
- `cache`: a watch-backed, in-memory copy of every Release, which every read is served from.
- `auth`: bearer tokens checked with TokenReview, rights with SubjectAccessReview, both cached.
- `views`: what the API answers, computed from a Release and `greenlight.user_actions`.
- `api`: FastAPI routes and their dependencies; `main` assembles the app.

The operator stays the only thing that moves traffic: actions here only write the contract's
annotations on a Release.
"""

from __future__ import annotations

__version__ = "0.1.0"
