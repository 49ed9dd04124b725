"""Tables and panes redraw for what changed, not for every snapshot or jitter."""

from __future__ import annotations

import dataclasses

from textual.app import App, ComposeResult

from core.state import Container
from widgets.containers_table import ContainersTable


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield ContainersTable(id="t")


def _mem_cell(table: ContainersTable, key: str) -> str:
    return str(table.get_cell(key, "mem"))


async def test_memory_figure_holds_through_small_moves_and_follows_real_ones() -> None:
    app = TableApp()
    async with app.run_test() as pilot:
        table = app.query_one(ContainersTable)
        api = Container("c1", "shop-api-1", "img", "running", started_at=1.0,
                        memory_bytes=100 * 1024 * 1024, cpu_percent=1.0)
        table.update_host("web1", [api], at=100.0)
        await pilot.pause()
        key = "web1/c1"
        assert _mem_cell(table, key) == "100.0M"

        table.update_host("web1", [dataclasses.replace(api, memory_bytes=101 * 1024 * 1024)],
                          at=100.0)
        assert _mem_cell(table, key) == "100.0M", "a 1% move redrew the row"

        table.update_host("web1", [dataclasses.replace(api, memory_bytes=150 * 1024 * 1024)],
                          at=100.0)
        assert _mem_cell(table, key) == "150.0M"

        busy = dataclasses.replace(api, memory_bytes=150 * 1024 * 1024, cpu_percent=1.6)
        table.update_host("web1", [busy], at=100.0)
        assert str(table.get_cell(key, "cpu")) == "1.0%", "a 0.6-point CPU move redrew the row"
        table.update_host("web1", [dataclasses.replace(busy, cpu_percent=2.5)], at=100.0)
        assert str(table.get_cell(key, "cpu")) == "2.5%"

        tiny = Container("c2", "shop-proxy-1", "img", "running", started_at=1.0,
                         memory_bytes=450 * 1024, cpu_percent=0.0)
        table.update_host("web1", [busy, tiny], at=100.0)
        table.update_host("web1", [busy, dataclasses.replace(tiny, memory_bytes=700 * 1024)],
                          at=100.0)
        assert _mem_cell(table, "web1/c2") == "450.0K", "page-cache jitter of a tiny container"
        table.update_host("web1", [busy, dataclasses.replace(tiny, memory_bytes=3 * 1024 * 1024)],
                          at=100.0)
        assert _mem_cell(table, "web1/c2") == "3.0M"

        stopped = dataclasses.replace(api, state="exited", memory_bytes=None, exit_code=0,
                                      cpu_percent=None)
        table.update_host("web1", [stopped], at=100.0)
        assert _mem_cell(table, key) == "-"
        assert str(table.get_cell(key, "cpu")) == "-"


async def test_a_pane_redraws_when_its_data_or_docker_df_changes_only() -> None:
    from core.state import DiskState, DockerDiskUsage, ProbeResult, ProbeStatus
    from widgets.panes import DiskPane

    class PaneApp(App[None]):
        def compose(self) -> ComposeResult:
            yield DiskPane()

    app = PaneApp()
    async with app.run_test() as pilot:
        pane = app.query_one(DiskPane)
        disk = ProbeResult("disk", ProbeStatus.OK, DiskState(()))
        pane.show(disk)
        await pilot.pause()
        summary = app.query_one(".pane-summary")
        assert not summary.display  # no docker df yet
        usage = DockerDiskUsage(1, 0, 2, 0, 3, 0, 4, 0)
        pane.docker_df = ProbeResult("docker_df", ProbeStatus.OK, usage)  # as the dashboard does
        pane.show(disk)  # the same disk result, a new docker df: the line must show
        await pilot.pause()
        assert summary.display and "docker: images" in str(summary.render())


async def test_a_pane_out_of_sight_draws_the_newest_result_when_its_tab_opens() -> None:
    from textual.widgets import TabbedContent, TabPane

    from core.state import DiskState, Mount, ProbeResult, ProbeStatus
    from widgets.panes import DiskPane

    class TabsApp(App[None]):
        def compose(self) -> ComposeResult:
            with TabbedContent():
                with TabPane("Containers", id="containers"):
                    yield ContainersTable()
                with TabPane("Disk", id="disk"):
                    yield DiskPane()

    def disk(mountpoint: str) -> ProbeResult[DiskState]:
        mount = Mount("/dev/sda1", mountpoint, "ext4", 100, 50, 50)
        return ProbeResult("disk", ProbeStatus.OK, DiskState((mount,)))

    app = TabsApp()
    async with app.run_test() as pilot:
        pane = app.query_one(DiskPane)
        pane.show(disk("/old"))
        pane.show(disk("/srv"))
        await pilot.pause()
        assert pane.table.row_count == 0, "a pane in a closed tab was drawn"

        app.query_one(TabbedContent).active = "disk"
        await pilot.pause()
        cells = [str(c) for r in range(pane.table.row_count) for c in pane.table.get_row_at(r)]
        assert "/srv" in cells and "/old" not in cells

        pane.show(disk("/data"))  # in sight: drawn at once
        cells = [str(c) for r in range(pane.table.row_count) for c in pane.table.get_row_at(r)]
        assert "/data" in cells
