"""Launch gdstudio: `python main.py` is the same as `gdstudio` with no arguments."""

import sys

from gdstudio.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
