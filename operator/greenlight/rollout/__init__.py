"""The rollout decision: a pure function of the spec, the stored status and what was observed.

Nothing in this package performs I/O, reads a clock or imports Kopf or the Kubernetes client.
"""
