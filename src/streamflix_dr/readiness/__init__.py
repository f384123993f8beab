"""Readiness checks: can the DR region take over now."""
