"""Replacing a saved model's directory so that its path never holds half a model, or none.

A model is written into a fresh sibling directory `.<name>.saving-<random>`, flushed to disk, and then
exchanged with the directory at the target path in one atomic step: `renameat2(RENAME_EXCHANGE)` on Linux
(3.15 and later; ext4, XFS, Btrfs, tmpfs and most local file systems), `renamex_np(RENAME_SWAP)` on macOS. After
the exchange the sibling holds the old model and is removed. A reader, and a crash or kill at any moment, finds
the complete old model or the complete new one at the path; a first save renames the new directory into place.

Where the file system offers no exchange (`EINVAL`/`ENOSYS`, e.g. some network file systems) the old
directory is renamed aside (`.<name>.old-<random>`) before the new one is renamed in: between those two
renames the path is empty, and a crash there leaves the model in the `.old` directory (a warning names it).

Saves of one path take turns under an advisory lock (`forecast.tables.table_lock`), so a
`.<name>.saving-*` or `.<name>.old-*` directory found by the lock holder was left by a save that died; the
next save removes it (restoring an `.old` directory first when the path itself is missing).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import logging
import os
import re
import secrets
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from forecast.writable import unwritable_reason

logger = logging.getLogger(__name__)

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2  # linux/fs.h
_RENAME_SWAP = 2  # macOS sys/stdio.h


class SavedModelError(ValueError):
    """A directory is not a readable saved forecaster, or cannot hold one; the message names the file."""


@contextmanager
def replace_directory(target: Path, marker: str) -> Iterator[Path]:
    """Yield a fresh sibling directory of `target`; when the block succeeds it replaces `target` whole.

    `target` must be new, empty, or hold the file `marker` (a directory this package wrote:
    `check_replaceable`). A failure inside the block removes the new directory and leaves `target` untouched.
    """
    from forecast.tables import table_lock  # pandas: not loaded where the command line only checks a path

    target = check_replaceable(target, marker)
    target.parent.mkdir(parents=True, exist_ok=True)
    with table_lock(target):
        _remove_leftovers(target)
        staging = target.with_name(f".{target.name}.saving-{secrets.token_hex(4)}")
        staging.mkdir()
        try:
            yield staging
            _flush(staging)
            staging.chmod(0o777 & ~_umask())
            if target.exists():
                _swap_in(staging, target)
            else:
                os.rename(staging, target)
            _fsync_directory(target.parent)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise


def check_replaceable(target: str | os.PathLike, marker: str) -> Path:
    """`target` as an absolute path, or `SavedModelError` unless `replace_directory` may replace it: it is new, an
    empty directory, or a directory holding `marker`, and the nearest existing directory on its way is writable.
    Any other directory (the data of a project, the working directory) would be deleted whole by the swap."""
    target = Path(os.path.abspath(target))
    if target.exists() and not target.is_dir():
        raise SavedModelError(f"cannot save to {target}: it is a file, not a directory")
    if target.is_dir() and not (target / marker).exists():
        entries = sorted(entry.name for entry in target.iterdir())
        if entries:
            raise SavedModelError(
                f"cannot save to {target}: the directory holds {len(entries)} entries (e.g. {entries[0]!r}) but no "
                f"saved model ({marker}), and saving replaces it whole; give a new or an empty directory"
            )
    unwritable = unwritable_reason(target)
    if unwritable is not None:
        raise SavedModelError(f"cannot save to {target}: {unwritable}")
    return target


def _swap_in(staging: Path, target: Path) -> None:
    """Put `staging` at `target` and remove the model it replaced."""
    if exchange(staging, target):
        shutil.rmtree(staging, ignore_errors=True)  # it holds the old model now
        return
    retired = target.with_name(f".{target.name}.old-{secrets.token_hex(4)}")
    os.rename(target, retired)
    os.rename(staging, target)
    shutil.rmtree(retired, ignore_errors=True)


def exchange(first: Path, second: Path) -> bool:
    """Swap two directories atomically; False where this system or file system cannot (nothing was changed)."""
    libc = _libc()
    if libc is None:
        return False
    if sys.platform.startswith("linux"):
        function = getattr(libc, "renameat2", None)
        if function is None:
            return False
        result = function(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE)
    elif sys.platform == "darwin":
        function = getattr(libc, "renamex_np", None)
        if function is None:
            return False
        result = function(os.fsencode(first), os.fsencode(second), _RENAME_SWAP)
    else:
        return False
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, f"cannot swap {first} and {second}: {os.strerror(code)}")


_LIBC: list = []


def _libc():
    if not _LIBC:
        name = ctypes.util.find_library("c")
        _LIBC.append(ctypes.CDLL(name, use_errno=True) if name else None)
    return _LIBC[0]


def _remove_leftovers(target: Path) -> None:
    """Remove the directories of saves of `target` that died (the caller holds the save lock)."""
    pattern = re.compile(rf"\.{re.escape(target.name)}\.(saving|old)-[0-9a-z_]+")
    leftovers = [path for path in target.parent.iterdir() if pattern.fullmatch(path.name) and path.is_dir()]
    for path in sorted(leftovers):
        if path.name.startswith(f".{target.name}.old-") and not target.exists():
            os.rename(path, target)  # a fallback save died between its two renames: the old model goes back
            logger.warning("restored %s from %s, left by a save that was killed", target, path.name)
            continue
        shutil.rmtree(path, ignore_errors=True)
        logger.warning("removed %s, left by a save of %s that was killed", path, target)


def _flush(directory: Path) -> None:
    """Write every file of `directory` to disk, so the swap never publishes files still in the page cache."""
    for root, _, files in os.walk(directory):
        for name in files:
            descriptor = os.open(os.path.join(root, name), os.O_RDONLY)
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
        _fsync_directory(Path(root))


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    except OSError:
        pass  # some file systems cannot sync a directory; the rename is still atomic
    finally:
        os.close(descriptor)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
