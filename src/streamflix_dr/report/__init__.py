"""Failover and drill reports: JSON, Markdown with an SVG timeline, and the drill history."""
