# syntax=docker/dockerfile:1.7
# One file, three images:
#   docker build --target operator -t greenlight/operator .
#   docker build --target api      -t greenlight/api .
#   docker build --target sample   -t greenlight/sample .    (the demos' stand-in service)
# Dependencies come from requirements.lock (hash-pinned; `make lock` refreshes it), installed in
# a builder stage; the images get the resulting virtualenv only: no pip, no compiler, no cache.
# Both run as a numeric non-root user and work with a read-only root filesystem (bytecode is
# compiled at build time; /tmp is the only place they may write, an emptyDir in the chart).

# The base of every stage. Pin a digest for reproducible builds:
#   --build-arg PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:<digest>
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ARG UV_VERSION=0.13.8
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_CACHE_DIR=/var/cache/uv
RUN pip install --no-cache-dir "uv==${UV_VERSION}"
WORKDIR /src
RUN uv venv /opt/greenlight --python /usr/local/bin/python3
# The locked dependencies first: this layer is rebuilt only when the lock changes.
COPY requirements.lock ./
RUN --mount=type=cache,target=/var/cache/uv \
    uv pip install --python /opt/greenlight/bin/python --require-hashes --no-deps \
      -r requirements.lock
# Then the project itself (`greenlight`, `greenlight_api` and the sample app
# `greenlight_sample`; not the sandbox), without deps: everything it needs is already there,
# exactly as locked.
COPY pyproject.toml README.md ./
COPY operator/ operator/
COPY service/ service/
COPY sandbox/greenlight_sample/ sandbox/greenlight_sample/
RUN --mount=type=cache,target=/var/cache/uv \
    uv pip install --python /opt/greenlight/bin/python --no-deps . \
 && /opt/greenlight/bin/python -c "import greenlight.main, greenlight_api.main, greenlight_sample.main"

FROM ${PYTHON_IMAGE} AS runtime
ARG PYTHON_IMAGE
# Set by the pipeline: the version, the commit, the build time (RFC 3339), the project's URL.
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
ARG SOURCE=unknown
LABEL org.opencontainers.image.title="greenlight" \
      org.opencontainers.image.description="Health-gated blue-green releases on Kubernetes" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="${PYTHON_IMAGE}"
# No package tools in the final image; a user for the numeric id the pods run as.
RUN python -m pip uninstall --yes --quiet pip setuptools wheel \
 && groupadd --system --gid 10001 greenlight \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin greenlight
COPY --from=builder /opt/greenlight /opt/greenlight
# USER: Kopf names its process after the user (getpass), which needs a passwd entry or this
# variable; with it, any numeric id a cluster imposes works too.
ENV PATH=/opt/greenlight/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    USER=greenlight
WORKDIR /tmp
USER 10001:10001

# The operator: `kopf run --standalone -A -m greenlight.main`, with Kopf's liveness endpoint on
# :8080/healthz and Prometheus metrics on :9090/metrics. The chart replaces the arguments.
FROM runtime AS operator
LABEL org.opencontainers.image.title="greenlight-operator"
EXPOSE 8080 9090
ENTRYPOINT ["kopf"]
CMD ["run", "--standalone", "--all-namespaces", "--module=greenlight.main", \
     "--liveness=http://0.0.0.0:8080/healthz"]

# The API service and dashboard on :8000 (/healthz, /readyz, /version, /metrics, /api/v1).
FROM runtime AS api
LABEL org.opencontainers.image.title="greenlight-api"
EXPOSE 8000
ENTRYPOINT ["uvicorn"]
# Connection limits: at most 1000 connections and requests at once (503 beyond), idle
# keep-alive connections closed after 5 s, a request's headers due within
# GREENLIGHT_API_HEADER_TIMEOUT_SECONDS (the protocol class). A pod's args replace them.
CMD ["greenlight_api.main:app", "--host", "0.0.0.0", "--port", "8000", \
     "--http", "greenlight_api.core.connections:HeaderTimeoutH11Protocol", \
     "--limit-concurrency", "1000", "--timeout-keep-alive", "5", "--backlog", "1024"]

# The sample app on :8080 (/, /healthz, /readyz, /metrics): the service a demo releases. Its
# misbehaviour comes from SAMPLE_* variables (docs/sandbox.md); SIGTERM drains, then exits 0.
FROM runtime AS sample
LABEL org.opencontainers.image.title="greenlight-sample" \
      org.opencontainers.image.description="The sample service released in Greenlight's demos"
EXPOSE 8080
CMD ["python", "-m", "greenlight_sample", "--host", "0.0.0.0", "--port", "8080"]
