"""``python -m codec``: the ``rdcodec`` command."""

import sys

from .cli import main

sys.exit(main())
