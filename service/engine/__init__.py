"""The per-frame analysis after the pose model, thread-free: tracker, time-stamped windows, batched
classification and segment hysteresis. ``serve``'s workers and ``analyze`` run the same engine."""
