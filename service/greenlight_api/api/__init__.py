"""The HTTP surface: routes under `routes/`, their shared dependencies in `deps`."""
