"""The StreamFlix application service (issue 10): what the template's ECS task runs.

HTTPS on ``PORT``; titles in PostgreSQL, sessions in Redis/Valkey, media files on the EFS mount.
See :mod:`streamflix_app.server` for the endpoints and the environment it reads.
"""

__version__ = "1.0.0"
