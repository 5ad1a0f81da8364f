"""Where cargo put the newsflow binaries, for the Python scripts: scripts/lib/target-dir.sh says.

    sys.dont_write_bytecode = True  # no __pycache__ in scripts/lib
    sys.path.insert(0, str(ROOT / "scripts/lib"))
    from target_dir import NotBuilt, binaries
"""

import subprocess
from pathlib import Path

HELPER = Path(__file__).resolve().with_name("target-dir.sh")


class NotBuilt(Exception):
    """A binary is missing; the message names the command that builds it."""


def binaries(profile="debug", folder=None, names=()):
    """The folder of cargo's PROFILE binaries (or FOLDER, as given) once every one of NAMES
    (default: every binary of the workspace) is in it; NotBuilt otherwise."""
    where = [profile] if folder is None else ["--check", str(Path(folder).resolve())]
    # From the root, where the scripts build: a relative CARGO_TARGET_DIR means the same there.
    found = subprocess.run([str(HELPER), *where, *names], cwd=HELPER.parents[2],
                           capture_output=True, text=True)
    if found.returncode != 0:
        raise NotBuilt(found.stderr.strip())
    return Path(found.stdout.strip())
