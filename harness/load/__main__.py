"""``python -m gevent.monkey --module harness.load ARGS``: what ``seenby load ARGS`` runs."""

import sys

from seenby.harness.load.cli import main

sys.exit(main())
