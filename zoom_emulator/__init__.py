"""A real HTTP server that behaves like Zoom's REST API v2, OAuth and webhooks, for tests, demos
and benchmarks. It follows /work/shared/zoom-api.md; behaviours seen only on Zoom's forum are switches.
"""
