"""Shared by every rollcall process: config, Zoom access, database, security, audit, gRPC."""
