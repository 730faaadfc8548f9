"""Events: agreement of raters' marks (consensus moments) and event-locked statistics."""
