"""Health gates: small probes behind one protocol, one module per kind, and a factory."""
