"""The only code of the service that talks to the Kubernetes API.

Releases are read, watched and annotated through the operator's adapter
(`greenlight.kube.releases`), with its errors (`greenlight.kube.errors`) and its kubeconfig rule
(`greenlight.kube.client`). The client blocks: `gateway.KubeCluster` runs every call in a
thread pool of its own, and the Release watch runs in threads of its own (see `cache`).
Nothing here is ever called on the event loop, and no client type leaks out of this package:
callers see plain dicts, small dataclasses and typed errors.
"""
