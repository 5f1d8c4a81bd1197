"""Named places where the crash-safety tests kill the process, as a real crash would.

`OPSKPI_CRASH_AT=<name>` (or `<name>@<n>` for its n-th pass, counting from 1) makes `crashpoint(name)`
send SIGKILL to its own process there: no `finally`, no `atexit`, no flush, exactly like a power cut or
the OOM killer. Unset (always, outside tests) a crash point costs one dictionary lookup.

The points sit where a crash would hurt most: a landing batch with its manifest written but not yet
renamed (on an object store: parts uploaded, the manifest not yet, `landing.part_written` /
`landing.before_manifest`), a warehouse transaction merged but not committed, a published file built but not
swapped in.
"""

from __future__ import annotations

import os
import signal
import threading

ENV = "OPSKPI_CRASH_AT"

_passes: dict[str, int] = {}
_lock = threading.Lock()


def crashpoint(name: str) -> None:
    wanted = os.environ.get(ENV)
    if not wanted:
        return
    target, _, nth = wanted.partition("@")
    if target != name:
        return
    with _lock:
        _passes[name] = _passes.get(name, 0) + 1
        count = _passes[name]
    if count >= int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
