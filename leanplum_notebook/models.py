"""Plain data passed between the pipeline's modules (pure; no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal

ExportFormat = Literal["json", "csv"]


@dataclass(frozen=True)
class ExportPart:
    """One downloaded export job, as the loader sees it.

    Attributes
    ----------
    entry_dir : Path
        The cache entry folder of the job; the loader keeps its Parquet tables in
        ``entry_dir / "parquet"``.
    format : {"json", "csv"}
        File format of ``files``.
    files : tuple of Path
        The complete downloaded files of the job (JSON lines, or CSV files whose names end
        in ``-output<kind>-<shard>``).
    days : tuple of date
        The Pacific days this part is authoritative for. The job may hold sessions of
        other days (a later refresh of a provisional day supersedes them); the loader keeps
        only sessions whose start falls on one of these days.
    num_sessions : int or None
        ``numSessions`` reported by the server for the whole job, for the integrity check.
    job_id : str
        The server's job id.
    """

    entry_dir: Path
    format: ExportFormat
    files: tuple[Path, ...]
    days: tuple[date, ...]
    num_sessions: int | None = None
    job_id: str = ""
    extra: dict[str, str] = field(default_factory=dict, compare=False)
