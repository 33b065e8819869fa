"""``python -m detector``: the command line."""

import sys

from detector.cli.main import main

sys.exit(main())
