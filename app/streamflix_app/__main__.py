"""``python -m streamflix_app``: serve until SIGTERM (what ECS sends to stop a task)."""

from streamflix_app.server import main

raise SystemExit(main())
