"""Probes: what warroom sees on a host, as typed snapshots (UI-free, async).

Each probe module holds one probe class behind the :class:`~core.probes.base.Probe`
protocol; :class:`~core.probes.collect.HostProbes` runs a host's probes together.
This package imports nothing itself: ``warroom`` imports
:mod:`core.probes.workers` before anything heavy.
"""
