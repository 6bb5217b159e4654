"""The `greenlight` command (also the kubectl plugin `kubectl-greenlight`)."""
