"""Service: the route of a frame from capture to subscribers, and the programs built on it.

Sub-packages, in the order a frame meets them (imports point the same way, never back):

- ``runtime``: capture threads, bounded queues, the pool of pose workers, the analysis stage, the
  adaptive stride;
- ``engine``: the thread-free per-frame analysis (tracker, windows, classifier, segments), shared by
  ``serve`` and ``analyze``;
- ``outputs``: events and their schema, the ZeroMQ publisher and proxy, metrics, health HTTP;
- ``offline``: ``analyze`` of a file (timeline, annotated video);
- ``web``: the upload page and the live preview;
- ``config``: the YAML/env/flags configuration and the runtime options it builds;
- ``app``: ``serve`` and ``web`` assembled from the config;
- ``cli``: the ``actionstream`` command, one module per command (the only way into ``training``).

See docs/ARCHITECTURE.md.
"""
