"""A stand-in for Rollout's API, for integration tests and demos."""

from ._stand_in import (
    DATA_NOT_READY_MESSAGE,
    DEFAULT_CONNECTORS,
    Rejection,
    RolloutAPIStandIn,
    SeenRequest,
)

__all__ = [
    "DATA_NOT_READY_MESSAGE",
    "DEFAULT_CONNECTORS",
    "Rejection",
    "RolloutAPIStandIn",
    "SeenRequest",
]
