"""The AWS layer: client factory, retries, status enums. Nothing else in the package creates clients."""

from streamflix_dr.aws.clients import ClientFactory, RegionClients, Target

__all__ = ["ClientFactory", "RegionClients", "Target"]
