"""Stopping a child process we started (an emulator, a redis-server): one place for the signal sequence."""

from __future__ import annotations

import subprocess


def stop(process: subprocess.Popen, grace_s: float = 15) -> None:
    """SIGTERM, then SIGKILL once `grace_s` have passed, and reap it either way: a child left running keeps its
    port and its open files, and the next test or bench run collides with it."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
