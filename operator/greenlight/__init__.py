"""Greenlight: health-gated blue-green releases on Kubernetes.

The layers, and the direction of imports between them (checked by `lint-imports`):

- `models`, `settings`: the Release's shape and the operator's settings; no I/O.
- `rollout`: the rollout decision, pure: (spec, status, observation, now) -> (status, actions).
- `gates`: health probes (HTTP directly or through the API server's service proxy).
- `kube`: the only code that talks to the Kubernetes API (through the official client).
- `handlers`: Kopf handlers that observe, decide, act and write status; they only translate.
- `main`: registers the handlers for `kopf run -m greenlight.main`.
- `cli`: the `greenlight` command.
"""
