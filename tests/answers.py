"""Known answers to the starter prompts, for tests that need a right one to run."""

MERGE_INTERVALS = """
def merge_intervals(intervals):
    out = []
    for start, end in sorted(intervals):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out
"""
"""A correct `merge_intervals` for prompts/merge-intervals.md (as bare code, no fence)."""
