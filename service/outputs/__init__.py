"""What leaves the process: event payloads and their JSON Schema, the ZeroMQ publisher and the proxy
in front of many shards, Prometheus metrics, and the health/metrics HTTP server."""
