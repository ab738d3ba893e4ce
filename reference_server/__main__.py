"""``python -m seenby.reference_server``: the same as ``seenby serve``."""

from seenby.reference_server.cli import main

raise SystemExit(main())
