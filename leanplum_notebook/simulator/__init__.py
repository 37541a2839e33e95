"""The bundled simulator of Leanplum's raw-data export API (``exportData``/``getExportResults``).

It shares no code with the client side: it is an independent reading of the API spec, so a
misreading on either side shows up as a failing test. Importing it starts nothing.
"""

from __future__ import annotations

from .clock import SimClock
from .config import AppConfig
from .faults import FaultConfig
from .generator import DataConfig
from .server import SimStats, Simulator

__all__ = ["AppConfig", "DataConfig", "FaultConfig", "SimClock", "SimStats", "Simulator"]
