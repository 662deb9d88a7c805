"""Inference: frames in, poses and action probabilities out. Pure computation: no threads,
no sockets, no config files."""

from inference.poses import Poses

__all__ = ["Poses"]
