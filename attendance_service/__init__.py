"""Attendance service: who attended a meeting, against who was expected, live and final."""
