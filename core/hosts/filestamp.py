"""Whether a file changed since it was last read, by its stat."""

from __future__ import annotations

from pathlib import Path

Stamp = tuple[int, ...]


def file_stamp(path: Path) -> Stamp | None:
    """What ``path`` is now, by its stat (None when it cannot be read): a file that
    was changed, replaced or removed has another stamp."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino, st.st_dev)
