"""Probes: what warroom sees on a host, as typed snapshots (UI-free, async).

Each probe module holds one probe class behind the :class:`~core.probes.base.Probe`
protocol; :class:`~core.probes.collect.HostProbes` runs a host's probes together.
"""

from core.probes.base import Probe, ProbeError
from core.probes.collect import HostProbes, collect_host, fleet_probes

__all__ = ["HostProbes", "Probe", "ProbeError", "collect_host", "fleet_probes"]
