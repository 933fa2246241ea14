"""`python -m gdstudio` runs the same entry point as the `gdstudio` console script."""

import sys

from gdstudio.cli import main

if __name__ == "__main__":
    sys.exit(main())
