"""The failover runbook: steps, the runner, the journal and lock, the latency model."""
