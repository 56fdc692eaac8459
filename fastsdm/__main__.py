"""``python -m fastsdm``: the ``fastsdm`` command (see :mod:`fastsdm.cli`)."""

import sys

from fastsdm._launch import main

if __name__ == "__main__":
    sys.exit(main())
