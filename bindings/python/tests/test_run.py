"""run: exit codes, streams, environment, the init."""

from __future__ import annotations

import io
import os
import tempfile

import pytest

import berth
from conftest import ROOTFS, Capture, Recorder, cid, shell


@pytest.mark.parametrize("code", [0, 1, 7, 255])
def test_exit_codes(driver: berth.Driver, code: int) -> None:
    status = driver.run(shell(cid(f"exit-{code}"), f"exit {code}"))
    assert status == berth.ExitStatus(code=code, signal=0, oom_killed=False)
    assert status.success == (code == 0)


def test_killed_by_a_signal(driver: berth.Driver) -> None:
    # Under berth's init, the program is not pid 1, so its own SIGKILL ends it.
    status = driver.run(shell(cid("self-kill9"), "kill -9 $$", init=True))
    assert (status.code, status.signal) == (137, 9)


def test_stdout_and_stderr(driver: berth.Driver) -> None:
    out, err = Capture(), Capture()
    status = driver.run(shell(cid("streams"), "echo out; echo err >&2"), stdout=out.w, stderr=err.w)
    assert status.code == 0
    assert out.text() == "out\n"
    assert err.text() == "err\n"


def test_stdin_from_a_file_object(driver: berth.Driver) -> None:
    with tempfile.TemporaryFile() as stdin:
        stdin.write(b"one\ntwo\nthree\n")
        stdin.seek(0)
        out = Capture()
        status = driver.run(shell(cid("stdin"), "wc -l"), stdin=stdin, stdout=out.w)
    assert status.code == 0
    assert out.text().strip() == "3"


def test_file_objects_are_flushed_first(driver: berth.Driver) -> None:
    with tempfile.TemporaryFile("w+") as log:
        log.write("before\n")  # buffered by Python, not yet in the file
        driver.run(shell(cid("flush"), "echo inside"), stdout=log, stderr=log)
        log.seek(0)
        assert log.read() == "before\ninside\n"


def test_no_streams_is_the_null_device(driver: berth.Driver) -> None:
    out = Capture()
    status = driver.run(
        shell(cid("null"), "cat; ls -l /proc/self/fd/0 >&2; test -t 0 || echo not-a-tty >&2"),
        stderr=out.w,
    )
    assert status.code == 0
    text = out.text()
    assert "/dev/null" in text and "not-a-tty" in text


def test_environment_and_process_fields(driver: berth.Driver) -> None:
    out = Capture()
    command = shell(cid("env"), 'echo "$GREETING $(pwd) $(id -u):$(id -g) $HOME"')
    command["process"].update({"env": ["GREETING=hello"], "cwd": "/tmp", "user": "1000:1000"})
    assert driver.run(command, stdout=out.w).code == 0
    assert out.text().split()[:3] == ["hello", "/tmp", "1000:1000"]


def test_default_path(driver: berth.Driver) -> None:
    out = Capture()
    command = {"id": cid("path"), "rootfs": ROOTFS, "process": {"args": ["sh", "-c", "echo $PATH"]}}
    assert driver.run(command, stdout=out.w).code == 0
    assert "/bin" in out.text()


def test_hostname_is_the_id(driver: berth.Driver) -> None:
    out = Capture()
    container_id = cid("hostname")
    driver.run(shell(container_id, "hostname"), stdout=out.w)
    assert out.text().strip() == container_id


def test_builtin_init(driver: berth.Driver) -> None:
    out = Capture()
    status = driver.run(
        shell(cid("init"), "echo $$; kill -TERM $$; sleep 5", init=True), stdout=out.w
    )
    # The program is pid 2 under berth's init, and SIGTERM reaches it.
    assert out.text().strip() == "2"
    assert (status.code, status.signal) == (143, 15)


def test_hooks_of_a_run(driver: berth.Driver) -> None:
    rec = Recorder()
    status = driver.run(shell(cid("hooks"), "exit 5"), **rec.hooks())
    assert status.code == 5
    assert len(rec.pids) == 1 and rec.pids[0] > 1
    assert rec.exit_status() == status


def test_a_bytesio_is_not_a_stream(driver: berth.Driver) -> None:
    with pytest.raises(berth.InvalidArgument, match="stdout has no file descriptor"):
        driver.run(shell(cid("bytesio"), "exit 0"), stdout=io.BytesIO())


def test_fds_are_duplicated_not_taken(driver: berth.Driver) -> None:
    r, w = os.pipe()
    try:
        driver.run(shell(cid("dup"), "echo x"), stdout=w)
        os.fstat(w)  # still ours, still open
        assert os.read(r, 10) == b"x\n"
    finally:
        os.close(r)
        os.close(w)
