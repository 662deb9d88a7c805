"""Service: config, pipeline, ZeroMQ events, metrics, HTTP and the CLI."""
