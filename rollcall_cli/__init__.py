"""The `rollcall` command line: run the stack, migrate, load the demo school, mint dev tokens."""
