from bench.core.defaults import limit_threads

limit_threads()  # before torch is imported

from bench.cli import main  # noqa: E402

raise SystemExit(main())
