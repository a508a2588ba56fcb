import os

# One thread per process unless asked otherwise: on small machines torch's default thread pool
# makes the tiny operations of these models many times slower. Set before torch is imported.
os.environ.setdefault("OMP_NUM_THREADS", "1")

from .cli import main  # noqa: E402

raise SystemExit(main())
