"""Capture: frames out of RTSP cameras, webcams and video files, reliably."""

from capture.frame import Frame

__all__ = ["Frame"]
