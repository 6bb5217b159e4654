"""Cross-cutting pieces of the service: settings, logging, metrics, lifecycle. No Kubernetes."""
