"""Networking: Services' addresses (allocate.py) and Endpoints (endpoints.py, its controller);
the node proxy and the Ingress router come next (docs/architecture.md)."""
