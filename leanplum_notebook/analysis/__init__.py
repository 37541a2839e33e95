"""Analysis on the typed tables: metrics (each one a reduction) and joins. No I/O."""
