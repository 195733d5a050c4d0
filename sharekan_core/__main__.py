"""Entry point for ``python -m sharekan_core``."""
import sys

from .cli import main

sys.exit(main())
