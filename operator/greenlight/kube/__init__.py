"""The only code that talks to the Kubernetes API: one module per resource kind, all through the official client, with retries on transient errors."""
