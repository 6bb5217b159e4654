"""The only code that talks to the Kubernetes API.

One module per resource kind, all through the official client's connection, with retries of
transient errors in one place (`retry`), behind one facade for the handlers (`gateway`).
"""
