"""Reading a file the user (or a cache folder) named: regular files only, never blocking, never unbounded.

Why its own module (issue 20 item 6): a FIFO named ``fifo.jpg`` hung a run forever
(``open`` blocks until a writer comes, and then Ctrl-C could not stop the I/O thread),
and ``/dev/zero`` named in a list file grew memory to 7 GB. Every reader of inputs,
masks, list files, annotation files and cache entries goes through :func:`read_regular`:

* the path is checked with ``stat`` first, so a device is never even opened (opening
  some devices has side effects, such as a tape rewinding);
* it is opened with ``O_NONBLOCK`` (a FIFO swapped in after the check cannot block)
  and checked again with ``fstat`` on the open descriptor;
* at most ``limit`` bytes are read, so a file that is, or grows, too big fails with a
  clear line instead of filling memory.

Every refusal is a :class:`~remove_people.errors.InputError` with one line that names
the file and says what to do; callers that need a usage error re-raise it as one.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from remove_people.errors import InputError

#: Read in pieces of this size, so a file growing while it is read is stopped at ``limit``.
_CHUNK = 16 << 20


def file_kind(mode: int) -> str:
    """What a non-regular file is, in words a user recognises."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    return "not a regular file"


def _refuse(path: Path, mode: int, what: str) -> InputError:
    kind = file_kind(mode)
    if kind == "a folder":
        return InputError(path, f"is a folder, not an {what} file")
    return InputError(path, f"is {kind}, not a regular {what} file; only regular files are read")


def human_bytes(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:,} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return str(n)  # pragma: no cover


def read_regular(path: Path | str, what: str, limit: int, *, follow_symlinks: bool = True, too_big: str = "") -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes, or an ``InputError`` in one line.

    ``what`` names the file in messages ("image", "mask", "list", "annotation").
    ``follow_symlinks=False`` refuses a symlink itself (the cache reads its own files
    that way, so a link planted in it never leads out of it). ``too_big`` is added to
    the message of a file over ``limit`` (e.g. which option raises it).
    """
    path = Path(path)
    try:
        st = os.stat(path, follow_symlinks=follow_symlinks)
    except FileNotFoundError:
        raise InputError(path, f"{what} file not found (was it moved or deleted?)") from None
    except PermissionError:
        raise InputError(path, f"permission denied: cannot read the {what} file; check its permissions") from None
    except OSError as exc:
        raise InputError(path, f"cannot read the {what} file ({exc.strerror or exc})") from None
    if not stat.S_ISREG(st.st_mode):
        raise _refuse(path, st.st_mode, what)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    if not follow_symlinks:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise InputError(path, f"{what} file not found (was it moved or deleted?)") from None
    except PermissionError:
        raise InputError(path, f"permission denied: cannot read the {what} file; check its permissions") from None
    except OSError as exc:
        if exc.errno in (errno.ENXIO, errno.ELOOP):  # a socket, or a symlink swapped in after the check
            raise InputError(path, f"is not a regular {what} file; only regular files are read") from None
        raise InputError(path, f"cannot read the {what} file ({exc.strerror or exc})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):  # swapped between the stat and the open
            raise _refuse(path, st.st_mode, what)
        if st.st_size > limit:
            raise InputError(path, _too_big(st.st_size, limit, what, too_big))
        chunks: list[bytes] = []
        got = 0
        while True:
            piece = os.read(fd, min(_CHUNK, limit + 1 - got))
            if not piece:
                break
            chunks.append(piece)
            got += len(piece)
            if got > limit:  # it grew while we read it
                raise InputError(path, _too_big(got, limit, what, too_big))
        return b"".join(chunks)
    except InputError:
        raise
    except IsADirectoryError:
        raise InputError(path, f"is a folder, not an {what} file") from None
    except OSError as exc:
        raise InputError(path, f"cannot read the {what} file ({exc.strerror or exc})") from None
    finally:
        os.close(fd)


def _too_big(size: int, limit: int, what: str, hint: str) -> str:
    more = "over" if size > limit else "at"
    return f"{what} file is {human_bytes(size)}, {more} the limit of {human_bytes(limit)}" + (f"; {hint}" if hint else "")


def regular_or_missing(path: Path) -> str | None:
    """``None`` for a regular file (symlinks followed) or a missing path; else what it is instead.

    For up-front checks of files named on the command line (``--masks``, ``-a``, list files).
    """
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    return None if stat.S_ISREG(mode) else file_kind(mode)
