"""Offline checks of the shipped artifacts: chart, manifests, image, pipeline, skaffold config."""
