"""StreamFlix disaster recovery: templates, deploy orchestration, failover runbooks and drills."""

__version__ = "0.1.0"
