"""The running service: one capture thread and bounded queue per camera, inference workers that
feed the engine, and the adaptive stride that keeps them real-time."""
