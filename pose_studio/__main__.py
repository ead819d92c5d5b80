"""``python -m pose_studio`` is the ``pose-studio`` command."""

import sys

from pose_studio.cli.main import main

sys.exit(main())
