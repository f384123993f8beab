"""Failback: return from the DR region (us-east-1) to the primary (eu-west-2) without losing a write.

Three phases, each a list of runner stages (``phases.py``), run by the failover runner with its journal
and lock (direction ``failback``):

* ``reprotect``: rebuild replication towards the primary region (RDS replica under the original
  identifier, EFS into the existing file system, Redis secondary, secret replicas). Hours on AWS.
* ``cutback``: fence the DR writers, drain every store, promote/fail back in the primary region,
  move DNS, verify, scale the DR region back to warm.
* ``reprotect-original``: rebuild replication towards the DR region; delete the renamed-aside instances.

One module per store (rds, efs, redis, secrets, ecs, dns); ``reconcile.py`` compares the stacks with
what runs.
"""
