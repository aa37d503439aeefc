"""``python -m tandem``: the `tandem` command without the console script (tests use it)."""

from tandem import main

raise SystemExit(main())
