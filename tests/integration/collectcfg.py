"""Test configurations for the collection tests: the example plan with its
scrape and probes sections replaced, written to a temporary file."""
import atexit
import os
import socket
import tempfile

from dwtest import EXAMPLE, free_port  # noqa: F401 (re-exported)


def config_with(sections, tmpdir=None):
    """Path of a copy of the example plan whose top-level sections named in
    `sections` (scrape, probes, rules, alerting...) are replaced by them."""
    keys = {line.split(":", 1)[0] + ":" for line in sections.splitlines()
            if line and line[0] not in " #" and ":" in line}
    # The example's status page names the example's probes: with other probes, no page
    # unless the test brings its own.
    if "probes:" in keys and "status:" not in keys:
        keys.add("status:")
    out, skip = [], False
    with open(EXAMPLE) as f:
        for line in f:
            if line and line[0] not in " #\n":
                skip = any(line.startswith(k) for k in keys)
            if not skip:
                out.append(line)
    fd, path = tempfile.mkstemp(prefix="dwcfg-", suffix=".yaml", dir=tmpdir)
    # The example names its rule file relative to itself; the copy lives elsewhere.
    text = "".join(out).replace("[rules/", "[" + os.path.join(os.path.dirname(EXAMPLE), "rules/"))
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.write("\n" + sections)
    if tmpdir is None:
        atexit.register(lambda: os.path.exists(path) and os.remove(path))
    return path



