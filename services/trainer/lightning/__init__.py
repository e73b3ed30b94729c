"""Everything that imports agentlightning lives in this package, so nothing else pays for that import (5-15 s):
the CLI, the planner and the tests of pure cores never import it.

agentlightning imports LiteLLM, which downloads a model price list at import time unless told to use the copy it
ships with. The trainer must run offline, so the switch is set here, before any module of this package imports
agentlightning.
"""

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
