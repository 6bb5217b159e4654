"""The only code of the service that talks to the Kubernetes API.

It uses the official `kubernetes` client, which blocks: `gateway.KubeCluster` runs every call
in a thread pool of its own, and the Release watch runs in threads of its own (see `cache`).
Nothing here is ever called on the event loop, and no client type leaks out of this package:
callers see plain dicts, small dataclasses and the errors of `errors`.
"""
