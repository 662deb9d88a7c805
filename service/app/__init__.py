"""The programs assembled from the configuration: ``serve`` (cameras, events, metrics, web UI) and
the upload-only ``web``."""
