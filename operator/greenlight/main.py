"""The operator's entry point: `kopf run --standalone -A -m greenlight.main`.

Importing this module registers the handlers in Kopf's default registry with the settings of
the environment (`GREENLIGHT_*`). No client is built and no kubeconfig is read here: that
happens when the operator starts.
"""

import kopf

from greenlight.handlers import kopf_handlers
from greenlight.settings import get_settings

kopf_handlers.register(kopf.get_default_registry(), get_settings())
