"""The operator's entry point: `kopf run --standalone -A -m greenlight.main`.

Importing this module registers the handlers in Kopf's default registry with the settings of
the environment (`GREENLIGHT_*`). No client is built and no kubeconfig is read here: that
happens when the operator starts. The metrics and liveness ports are checked first: a taken
one ends the process with one line naming it and its setting, before Kopf starts.
"""

import sys

import kopf

from greenlight import ports
from greenlight.handlers import kopf_handlers
from greenlight.settings import get_settings

_settings = get_settings()
ports.exit_if_taken(
    [
        (_settings.metrics_port, "GREENLIGHT_METRICS_PORT (chart: operator.metrics.port)"),
        (
            ports.liveness_port(sys.argv),
            "kopf run --liveness=http://0.0.0.0:PORT/healthz (chart: operator.liveness.port)",
        ),
    ]
)
kopf_handlers.register(kopf.get_default_registry(), _settings)
