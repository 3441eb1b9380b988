"""Networking: Services' addresses (allocate.py), Endpoints and EndpointSlices (endpoints.py,
endpointslices.py, their controller);
the node proxy and the Ingress router come next (docs/architecture.md)."""
