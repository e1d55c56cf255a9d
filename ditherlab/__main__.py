"""Allow ``python -m ditherlab``."""

import sys

from ditherlab.cli import main

sys.exit(main())
