"""Greenlight: health-gated blue-green releases on Kubernetes.

The layers, top to bottom (a layer imports only those below it; `lint-imports` checks it):

- `main` (registers the handlers for `kopf run -m greenlight.main`), `cli` (the `greenlight`
  command, which never loads Kopf) and `crd` (the CRD from the models), independent.
- `handlers`: Kopf handlers that observe, decide, act and write status; they only translate.
- `validation`: what the models cannot check of a spec; pure.
- `gates`: health probes, given a transport; pure.
- `kube`: the only code that talks to the Kubernetes API (and the probes' transports).
- `rollout`: the rollout decision, pure: (spec, status, observation, now) -> (status, actions).
- `metrics`, `naming`, `user_actions` (the one policy of the action annotations).
- `models`, `settings`, `ports`: the Release's shape and the operator's settings; no I/O.
"""
