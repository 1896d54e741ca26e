"""Entry point: `python -m backbone.kis decode FILE|-` (see decode_cli)."""
from .decode_cli import main

raise SystemExit(main())
