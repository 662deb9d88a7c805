"""The running service: one capture thread and bounded queue per camera, a pool of pose workers that
every camera's frames spread over, the analysis stage that puts their results back in capture order
and runs the engine, and the adaptive stride that keeps them real-time."""
