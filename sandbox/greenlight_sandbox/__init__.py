"""The sandbox: the whole Greenlight system on one machine, with Python alone.

It owns what a cluster would otherwise provide: an emulated API server
(:mod:`greenlight_sandbox.emulator`), controllers standing in for kube-controller-manager and
the kubelet (pods are real local processes on loopback addresses), and a local proxy per
Service that follows its EndpointSlices with a kube-proxy-like lag. The tests use the same
emulator; nothing here is test-only. See docs/sandbox.md.

This package is installed with the ``sandbox`` extra (``pip install 'greenlight[sandbox]'``);
the operator, the CLI and the API service never import it.
"""
