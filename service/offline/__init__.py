"""Offline analysis of one video file (``actionstream analyze`` and uploads): the probe that checks a
file, the engine over its frames, the timeline of segments and the annotated H.264 video."""
