"""Registration service: registers students as Zoom meeting registrants, exactly once."""
