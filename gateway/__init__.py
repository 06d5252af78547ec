"""HTTP gateway: fronts the gRPC services for browsers and serves the web page."""
