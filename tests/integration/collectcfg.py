"""Test configurations for the collection tests: the example plan with its
scrape and probes sections replaced, written to a temporary file."""
import atexit
import os
import socket
import tempfile

from dwtest import EXAMPLE, free_port  # noqa: F401 (re-exported)


def config_with(sections, tmpdir=None):
    """Path of a copy of the example plan whose scrape/probes sections are `sections`."""
    out, skip = [], False
    with open(EXAMPLE) as f:
        for line in f:
            if line and line[0] not in " #\n":
                skip = line.startswith("scrape:") or line.startswith("probes:")
            if not skip:
                out.append(line)
    fd, path = tempfile.mkstemp(prefix="dwcfg-", suffix=".yaml", dir=tmpdir)
    with os.fdopen(fd, "w") as f:
        f.write("".join(out))
        f.write("\n" + sections)
    if tmpdir is None:
        atexit.register(lambda: os.path.exists(path) and os.remove(path))
    return path



