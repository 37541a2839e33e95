"""What is kept on disk: the per-day cache and its planner, the quota ledger, atomic file I/O."""
