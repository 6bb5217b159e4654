"""The sample app: the user's service in demos, in the sandbox and on a kind cluster.

A small FastAPI app (`greenlight_sample.main:app`, or `python -m greenlight_sample`) that
reports which version, colour and revision answered, exposes liveness, readiness and
Prometheus metrics, and misbehaves on request through environment variables (slow start,
never ready, failing after a while, a share of errors), so that the same Release manifest
shows a release going wrong in the sandbox and on a real cluster. See docs/sandbox.md.

It needs only the project's runtime dependencies (FastAPI, uvicorn, pydantic-settings,
prometheus-client) and imports nothing else of the project: the sample image holds it alone.
"""
