"""The helper process protocol (core/probes/helper_process.py), with real helper processes.

A throwaway helper module answers echo, sleep, exit and junk requests, so
these tests are about the console's side: who gets which answer, what a
dying or stuck helper does to its callers, and what it leaves behind.
"""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.probes.helper_process import HelperError, HelperProcess

HELPER = '''
import json, os, sys, threading, time
lock = threading.Lock()

def write(answer):
    with lock:
        try:
            sys.stdout.write(json.dumps(answer) + "\\n")
            sys.stdout.flush()
        except OSError:  # after "hang up": an answer to a request read before it is lost
            pass  # quietly, so the last line on stderr stays the reason it gave

def answer(req):
    op = req.get("op")
    if op == "sleep":
        time.sleep(req["seconds"])
        write({"id": req["id"], "slept": req["seconds"]})
    elif op == "junk":
        with lock:
            sys.stdout.write("not json at all\\n[1, 2]\\n" + json.dumps({"id": "x"}) + "\\n")
            sys.stdout.flush()
        write({"id": req["id"], "after": "junk"})
    elif op == "exit":
        sys.stderr.write("first line\\nboom: the last words\\n")
        sys.stderr.flush()
        os._exit(req["status"])
    elif op == "hang up":  # closes its pipes, says why, and exits a moment later
        os.close(0)
        os.close(1)
        sys.stderr.write("RuntimeError: the real reason\\n")
        sys.stderr.flush()
        time.sleep(3)
        os._exit(3)
    elif op == "whoami":
        write({"id": req["id"], "pid": os.getpid(), "cwd": os.getcwd()})
    else:
        write({"id": req["id"], "echo": req.get("value")})

try:
    for line in sys.stdin:
        req = json.loads(line)
        if req.get("op") == "stop reading":
            time.sleep(30)
        threading.Thread(target=answer, args=(req,), daemon=True).start()
except OSError:  # "hang up" closed stdin under the reader: wait for it to exit
    time.sleep(30)
'''


@pytest.fixture
def helper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[HelperProcess]:
    (tmp_path / "wr_test_helper.py").write_text(HELPER)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))  # the helper inherits it
    process = HelperProcess("wr_test_helper", "the test helper")
    process.max_starts = 100  # these tests end it on purpose, again and again
    yield process
    process.close()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_gone(pid: int, seconds: float = 5) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.02)
    return False


async def test_answers_go_to_their_own_callers(helper: HelperProcess) -> None:
    slow = asyncio.create_task(helper.call({"op": "sleep", "seconds": 0.4}, 5))
    quick = [asyncio.create_task(helper.call({"value": n}, 5)) for n in range(20)]
    answers = await asyncio.gather(*quick)
    assert not slow.done()  # the quick ones came back first, each to its own caller
    assert [a["echo"] for a in answers] == list(range(20))
    assert await slow == {"slept": 0.4}


async def test_lines_that_are_not_answers_are_ignored(helper: HelperProcess) -> None:
    assert await helper.call({"op": "junk"}, 5) == {"after": "junk"}
    assert await helper.call({"value": "still"}, 5) == {"echo": "still"}


async def test_a_helper_that_exits_fails_its_callers_and_is_replaced(
    helper: HelperProcess,
) -> None:
    first = (await helper.call({"op": "whoami"}, 5))["pid"]
    waiting = asyncio.create_task(helper.call({"op": "sleep", "seconds": 10}, 20))
    await asyncio.sleep(0.1)
    with pytest.raises(HelperError) as died:
        await helper.call({"op": "exit", "status": 3}, 5)
    assert "exited with status 3" in str(died.value)
    assert "boom: the last words" in str(died.value)  # its last line on stderr says why
    with pytest.raises(HelperError):
        await waiting  # owed an answer: failed too, at once
    second = (await helper.call({"op": "whoami"}, 5))["pid"]
    assert second != first and _wait_gone(first)


async def test_a_killed_helper_names_the_signal(helper: HelperProcess) -> None:
    waiting = asyncio.create_task(helper.call({"op": "sleep", "seconds": 10}, 20))
    await asyncio.sleep(0.2)
    assert helper.pid is not None
    os.kill(helper.pid, signal.SIGKILL)
    with pytest.raises(HelperError, match="killed by signal 9"):
        await waiting
    assert (await helper.call({"value": 1}, 5)) == {"echo": 1}


async def test_a_silent_helper_times_out(helper: HelperProcess) -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await helper.call({"op": "sleep", "seconds": 5}, 0.3)
    assert time.monotonic() - started < 3
    assert await helper.call({"value": "next"}, 5) == {"echo": "next"}  # still serving


async def test_a_helper_that_stops_reading_does_not_block_the_loop(
    helper: HelperProcess,
) -> None:
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    try:
        stuck = helper.pid
        await helper.call({"value": 0}, 5)
        stuck = helper.pid
        helper.send({"op": "stop reading"})
        await asyncio.sleep(0.2)
        pad = "x" * 100_000  # more than a pipe holds: the write cannot complete
        with pytest.raises(HelperError, match="stopped reading its requests"):
            for _ in range(10):
                await helper.call({"value": pad}, 5)
        assert ticks > 10  # the event loop went on meanwhile
    finally:
        ticker.cancel()
    assert stuck is not None and _wait_gone(stuck)  # killed, not left behind
    assert await helper.call({"value": "fresh"}, 5) == {"echo": "fresh"}


async def test_a_missing_module_is_a_clear_error(tmp_path: Path) -> None:
    helper = HelperProcess("wr_no_such_helper_module", "the missing helper")
    try:
        with pytest.raises(HelperError,
                           match=r"status 1: .*No module named wr_no_such_helper_module"):
            await helper.call({"value": 1}, 10)
    finally:
        helper.close()


async def test_an_interpreter_that_cannot_start_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("sys.executable", "/nonexistent/python3")
    helper = HelperProcess("wr_test_helper", "the test helper")
    with pytest.raises(HelperError, match="cannot start the test helper"):
        await helper.call({"value": 1}, 5)


async def test_close_ends_the_helper(helper: HelperProcess) -> None:
    await helper.call({"value": 1}, 5)
    pid = helper.pid
    assert pid is not None
    helper.close()
    assert _wait_gone(pid, 2) and helper.pid is None


async def test_requests_never_appear_in_the_command_line_or_environment(
    helper: HelperProcess,
) -> None:
    secret = "s3cr3t-value-for-the-pipe-only"
    await helper.call({"value": secret}, 5)
    pid = helper.pid
    assert pid is not None
    for what in ("cmdline", "environ"):
        assert secret.encode() not in Path(f"/proc/{pid}/{what}").read_bytes()


async def test_the_helper_runs_in_the_package_directory(
    helper: HelperProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    answer = await helper.call({"op": "whoami"}, 5)
    assert Path(answer["cwd"]) == Path(__file__).resolve().parents[2]


async def test_dead_helpers_leave_no_open_descriptors(helper: HelperProcess) -> None:
    await helper.call({"value": 0}, 5)
    gc.disable()  # descriptors must be closed by the helper's end, not by the collector
    try:
        before = len(os.listdir("/proc/self/fd"))
        for _ in range(5):
            with pytest.raises(HelperError):
                await helper.call({"op": "exit", "status": 1}, 5)
        await helper.call({"value": 1}, 5)
        deadline = time.monotonic() + 5
        while len(os.listdir("/proc/self/fd")) > before and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert len(os.listdir("/proc/self/fd")) <= before
    finally:
        gc.enable()


async def test_a_late_answer_for_a_caller_that_left_keeps_the_reader_reading(
    helper: HelperProcess,
) -> None:
    for _ in range(3):
        with pytest.raises(TimeoutError):
            await helper.call({"op": "sleep", "seconds": 0.2}, 0.19)
    await asyncio.sleep(0.3)  # the answers arrive for callers that gave up
    assert await helper.call({"value": "ok"}, 5) == {"echo": "ok"}


async def test_callers_of_a_helper_that_hangs_up_learn_its_real_exit(
    helper: HelperProcess,
) -> None:
    waiting = asyncio.create_task(helper.call({"op": "sleep", "seconds": 10}, 20))
    await asyncio.sleep(0.2)
    helper.send({"op": "hang up"})
    refused = None
    deadline = time.monotonic() + 2.5  # its pipes close at once; it exits 3 s later
    while refused is None and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
        try:
            helper.send({"value": 1})
        except HelperError as exc:
            refused = exc
    assert refused is not None and "does not take requests" in str(refused)
    with pytest.raises(HelperError, match="exited with status 3: RuntimeError: the real reason"):
        await waiting
    assert await helper.call({"value": 2}, 5) == {"echo": 2}


async def test_an_answer_id_that_is_not_an_integer_matches_nobody(
    helper: HelperProcess,
) -> None:
    assert await helper.call({"value": "first"}, 5) == {"echo": "first"}  # id 1 is spent
    assert await helper.call({"op": "junk"}, 5) == {"after": "junk"}  # "x" matched no one


async def test_a_helper_that_keeps_dying_is_not_restarted_in_a_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    helper = HelperProcess("wr_no_such_helper_module", "the missing helper")
    helper.max_starts, helper.start_window = 3, 30.0
    try:
        for _ in range(3):
            with pytest.raises(HelperError, match="exited with status 1"):
                await helper.call({"value": 1}, 10)
        spawned: list[object] = []
        monkeypatch.setattr("subprocess.Popen", lambda *a, **k: spawned.append(a))
        with pytest.raises(HelperError, match=r"keeps ending \(last: .*No module named .*\); "
                                              r"not restarted for another \d+ s"):
            await helper.call({"value": 1}, 10)
        assert spawned == []
    finally:
        helper.close()


DIES_ON_REQUEST = '''
import os, sys
for line in sys.stdin:
    with open(os.environ["WR_TEST_REQUESTS"], "a") as log:
        log.write(line)
    os._exit(7)
'''


@pytest.mark.parametrize("signal_request", [True, False])
async def test_a_backend_signal_is_never_sent_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, signal_request: bool
) -> None:
    """A worker that dies with a request may have run it: a query is asked again of a
    new worker, a backend signal is not (it would report a terminated backend as
    not signalled)."""
    from core.config import PostgresConfig
    from core.probes import workers
    from core.probes.base import ProbeError
    from core.state import ProbeStatus

    (tmp_path / "wr_dies_on_request.py").write_text(DIES_ON_REQUEST)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setenv("WR_TEST_REQUESTS", str(tmp_path / "requests"))
    dies = HelperProcess("wr_dies_on_request", "the console-checks worker")
    monkeypatch.setattr(workers, "CONSOLE_WORKER", dies)
    signal_ = {"function": "pg_terminate_backend", "pid": 4242} if signal_request else None
    request = workers.pg_request("test", "127.0.0.1", 5432, PostgresConfig(), password=None,
                                 statement_timeout=1.0, where="the test's server",
                                 signal=signal_)
    try:
        with pytest.raises(ProbeError) as failed:
            await workers.ask(request, lambda answer: answer)
    finally:
        dies.close()
    sent = (tmp_path / "requests").read_text().splitlines()
    assert len(sent) == (1 if signal_request else 2)
    assert failed.value.status is ProbeStatus.ERROR
    assert "exited with status 7" in failed.value.reason
    assert ("whether the signal was sent is not known" in failed.value.reason) is signal_request


async def test_the_worker_answers_even_when_json_cannot_carry_the_answer(
    monkeypatch: pytest.MonkeyPatch, capfdbinary: pytest.CaptureFixture[bytes]
) -> None:
    """An answer the worker cannot encode is still answered (an error), never left for
    the console to wait out."""
    import json

    from core.probes import console_worker

    async def undecodable(request: dict[str, object]) -> dict[str, object]:
        return {"cert": b"\xff bytes JSON has no type for"}

    monkeypatch.setattr(console_worker, "tls_answer", undecodable)
    await console_worker.Worker().handle(b'{"id": 7, "op": "tls"}\n')
    answer = json.loads(capfdbinary.readouterr().out)
    assert answer["id"] == 7
    assert answer["error"]["status"] == "error" and "TypeError" in answer["error"]["reason"]


LOGS_REQUESTS = '''
import json, os, sys
for line in sys.stdin:
    request = json.loads(line)
    with open(os.environ["WR_TEST_REQUESTS"], "a") as log:
        log.write(f"{os.getpid()} {request['op']}\\n")
    sys.stdout.write(json.dumps({"id": request["id"], "ok": True}) + "\\n")
    sys.stdout.flush()
'''


async def test_on_start_requests_reach_the_running_helper_and_each_new_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "wr_logs_requests.py").write_text(LOGS_REQUESTS)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setenv("WR_TEST_REQUESTS", str(tmp_path / "requests"))
    helper = HelperProcess("wr_logs_requests", "the test helper")
    try:
        assert await helper.call({"op": "first"}, 10) == {"ok": True}
        helper.on_start({"op": "warm"})
        helper.on_start({"op": "warm"})  # once each, however often asked
        first = helper.pid
        assert await helper.call({"op": "second"}, 10) == {"ok": True}
        assert first is not None
        os.kill(first, signal.SIGKILL)
        assert _wait_gone(first)
        await asyncio.sleep(0.2)  # (its reader notices)
        assert await helper.call({"op": "third"}, 10) == {"ok": True}
        second = helper.pid
    finally:
        helper.close()
    log = (tmp_path / "requests").read_text().split("\n")
    assert log[:-1] == [f"{first} first", f"{first} warm", f"{first} second",
                        f"{second} warm", f"{second} third"]
